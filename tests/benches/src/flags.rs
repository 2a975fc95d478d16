//! The benchmarks' command lines: `--name value` pairs, `-h`/`--help` for the usage.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed flags; a wrong one ends the program with its usage (exit code 2).
#[derive(Debug)]
pub struct Flags {
    usage: &'static str,
    values: HashMap<String, String>,
}

impl Flags {
    /// Parses the program's arguments; `known` are the flags it takes.
    pub fn parse(usage: &'static str, known: &[&str]) -> Flags {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Flags::parse_from(&args, usage, known)
    }

    /// Parses `args` (without the program's name).
    #[allow(clippy::print_stdout)] // the usage asked for is the program's output
    pub fn parse_from(args: &[String], usage: &'static str, known: &[&str]) -> Flags {
        let mut flags = Flags {
            usage,
            values: HashMap::new(),
        };
        let mut it = args.iter();
        while let Some(name) = it.next() {
            if name == "-h" || name == "--help" {
                println!("{usage}");
                std::process::exit(0);
            }
            if !known.contains(&name.as_str()) {
                flags.fail(&format!("unknown argument {name}"));
            }
            match it.next() {
                Some(value) => flags.values.insert(name.clone(), value.clone()),
                None => flags.fail(&format!("{name} needs a value")),
            };
        }
        flags
    }

    fn fail(&self, problem: &str) -> ! {
        eprintln!("{problem}\n{}", self.usage);
        std::process::exit(2)
    }

    /// The value of `name`, or `default` when it was not given.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| self.fail(&format!("{name}: not a valid value: {v}"))),
            None => default,
        }
    }

    /// The comma-separated values of `name`, or `default` when it was not given.
    pub fn list<T: FromStr>(&self, name: &str, default: Vec<T>) -> Vec<T> {
        match self.values.get(name) {
            Some(v) => v
                .split(',')
                .map(|x| x.trim().parse().ok())
                .collect::<Option<Vec<T>>>()
                .unwrap_or_else(|| {
                    self.fail(&format!("{name}: a comma-separated list of numbers"))
                }),
            None => default,
        }
    }
}
