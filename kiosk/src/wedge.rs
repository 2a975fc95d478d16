//! A keyboard-wedge barcode scanner types a code and presses Enter: this turns key presses
//! into whole codes, and refuses garbage instead of passing it on.

use std::time::{Duration, Instant};

use rong_protocol::barcode::{self, CodeError};

/// A scanner line that was not a usable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanProblem {
    /// Control characters or other symbols no barcode has.
    Garbage,
    /// Longer than [`barcode::MAX_LEN`]: a misread or a stuck key.
    TooLong,
    /// Characters that stopped arriving before Enter (half a barcode).
    Incomplete,
}

/// What a finished line was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A plausible code.
    Code(String),
    /// Not usable.
    Bad(ScanProblem),
}

/// Checks a code from any source (wedge or the agent's push) by the protocol's rule, so
/// the kiosk takes exactly the codes central takes.
pub fn check_code(code: &str) -> Scan {
    match barcode::clean(code) {
        Ok(code) => Scan::Code(code.to_owned()),
        Err(CodeError::TooLong) => Scan::Bad(ScanProblem::TooLong),
        Err(CodeError::Empty | CodeError::Garbage) => Scan::Bad(ScanProblem::Garbage),
    }
}

/// Collects key presses into lines.
#[derive(Debug, Default)]
pub struct Wedge {
    buf: String,
    garbage: bool,
    last: Option<Instant>,
}

/// A gap this long between characters means the scanner stopped mid-code.
pub const STALL: Duration = Duration::from_millis(800);

impl Wedge {
    /// Feeds the text of one key press (Slint sends Enter as `"\n"`).
    pub fn key(&mut self, text: &str, now: Instant) -> Option<Scan> {
        let mut out = None;
        for c in text.chars() {
            match c {
                '\n' | '\r' => {
                    let line = std::mem::take(&mut self.buf);
                    let garbage = std::mem::take(&mut self.garbage);
                    self.last = None;
                    if line.is_empty() && !garbage {
                        continue;
                    }
                    out = Some(if garbage {
                        Scan::Bad(ScanProblem::Garbage)
                    } else {
                        check_code(&line)
                    });
                }
                // Slint's modifier keys (Shift, Control, Alt, ...) and the private-use keys
                // (arrows, F-keys) come with any typing; they are not part of a code.
                '\u{10}'..='\u{18}' | '\u{F700}'..='\u{F8FF}' => {}
                c if c.is_control() => {
                    self.garbage = true;
                    self.last = Some(now);
                }
                c => {
                    if self.buf.len() <= barcode::MAX_LEN * 4 {
                        self.buf.push(c);
                    }
                    self.last = Some(now);
                }
            }
        }
        out
    }

    /// Drops a line that stopped arriving, reporting it as half a barcode.
    pub fn tick(&mut self, now: Instant) -> Option<Scan> {
        let last = self.last?;
        if now.duration_since(last) < STALL {
            return None;
        }
        self.buf.clear();
        self.garbage = false;
        self.last = None;
        Some(Scan::Bad(ScanProblem::Incomplete))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(w: &mut Wedge, s: &str, now: Instant) -> Vec<Scan> {
        s.chars()
            .filter_map(|c| w.key(&c.to_string(), now))
            .collect()
    }

    #[test]
    fn lines_and_garbage() {
        let now = Instant::now();
        let mut w = Wedge::default();
        assert_eq!(
            typed(&mut w, "\u{10}KT00000001\n", now),
            vec![Scan::Code("KT00000001".into())]
        );
        assert_eq!(typed(&mut w, "\n", now), vec![]);
        assert_eq!(
            typed(&mut w, "KT\u{1b}01\n", now),
            vec![Scan::Bad(ScanProblem::Garbage)]
        );
        assert_eq!(
            typed(&mut w, "ab cd\n", now),
            vec![Scan::Bad(ScanProblem::Garbage)]
        );
        let long = "9".repeat(500) + "\n";
        assert_eq!(
            typed(&mut w, &long, now),
            vec![Scan::Bad(ScanProblem::TooLong)]
        );
        // The next code is not polluted by what came before.
        assert_eq!(
            typed(&mut w, "P000001\n", now),
            vec![Scan::Code("P000001".into())]
        );
    }

    #[test]
    fn the_protocols_rule_decides() {
        // Code 39 and Code 128 carry these; the agent's readers pass them, so the kiosk must.
        assert_eq!(check_code("KT+01$%"), Scan::Code("KT+01$%".into()));
        assert_eq!(check_code(" P000001\r\n"), Scan::Code("P000001".into()));
        assert_eq!(check_code("  "), Scan::Bad(ScanProblem::Garbage));
        assert_eq!(check_code("mã"), Scan::Bad(ScanProblem::Garbage));
        assert_eq!(
            check_code(&"9".repeat(barcode::MAX_LEN + 1)),
            Scan::Bad(ScanProblem::TooLong)
        );
    }

    #[test]
    fn half_a_code_is_dropped_after_a_stall() {
        let now = Instant::now();
        let mut w = Wedge::default();
        assert!(typed(&mut w, "KT0000", now).is_empty());
        assert_eq!(w.tick(now + Duration::from_millis(100)), None);
        assert_eq!(
            w.tick(now + STALL),
            Some(Scan::Bad(ScanProblem::Incomplete))
        );
        assert_eq!(w.tick(now + STALL * 2), None);
        assert_eq!(
            typed(&mut w, "KT00000002\n", now + STALL * 2),
            vec![Scan::Code("KT00000002".into())]
        );
    }
}
