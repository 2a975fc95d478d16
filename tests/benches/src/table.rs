//! The Markdown table most benchmarks print: measure, result, goal.

/// Rows gathered while a benchmark runs; each is echoed to stderr as it comes.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<(String, String, String)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds a row (`–` for no goal).
    pub fn row(&mut self, measure: impl Into<String>, result: impl Into<String>, goal: &str) {
        let row = (measure.into(), result.into(), goal.to_owned());
        eprintln!("| {} | {} | {} |", row.0, row.1, row.2);
        self.rows.push(row);
    }

    /// Prints the table on stdout: the program's output.
    #[allow(clippy::print_stdout)]
    pub fn print(&self) {
        println!("| measure | result | goal |");
        println!("|---|---|---|");
        for (m, r, g) in &self.rows {
            println!("| {m} | {r} | {g} |");
        }
    }
}
