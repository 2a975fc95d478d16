//! The PIN for `ctl`: typed at a prompt without echo, or one line of stdin. Never an
//! argument or an environment variable, which other users of the board can read in
//! `/proc/*/cmdline` and `/proc/*/environ` and which shells keep in their history.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::OnceLock;

use clap::Args;

use super::CtlError;

/// How the PIN is given, when the card needs one.
#[derive(Debug, Clone, Default, Args)]
pub struct PinArg {
    /// Ask for the PIN at a prompt, without echo (stdin must be a terminal).
    #[arg(long, conflicts_with = "pin_stdin")]
    pub ask_pin: bool,
    /// Read the PIN from the first line of stdin.
    #[arg(long)]
    pub pin_stdin: bool,
    /// The PIN once read: read at most once, however many requests use it.
    #[arg(skip)]
    value: OnceLock<Option<String>>,
}

impl PinArg {
    /// The PIN, read on first use; `None` when neither flag is given.
    pub fn get(&self) -> Result<Option<String>, CtlError> {
        if let Some(v) = self.value.get() {
            return Ok(v.clone());
        }
        let pin = if self.pin_stdin {
            Some(read_line(&mut std::io::stdin().lock())?)
        } else if self.ask_pin {
            Some(prompt()?)
        } else {
            None
        };
        Ok(self.value.get_or_init(|| pin).clone())
    }
}

/// The first line of `r`, without its line ending; an empty PIN is refused.
fn read_line(r: &mut impl BufRead) -> Result<String, CtlError> {
    let mut line = String::new();
    // A PIN is a few digits: a longer line is not a PIN, and is not read on and on.
    std::io::Read::take(&mut *r, 256)
        .read_line(&mut line)
        .map_err(|e| CtlError(format!("cannot read the PIN: {e}")))?;
    let pin = line.trim_end_matches(['\r', '\n']);
    if pin.is_empty() {
        return Err(CtlError("no PIN given".into()));
    }
    Ok(pin.to_owned())
}

/// Asks on the terminal with echo off, and puts echo back whatever happens.
fn prompt() -> Result<String, CtlError> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CtlError(
            "--ask-pin needs a terminal; give the PIN on stdin with --pin-stdin".into(),
        ));
    }
    let fail = |e: nix::Error| CtlError(format!("cannot turn off echo: {e}"));
    let saved = tcgetattr(&stdin).map_err(fail)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    eprint!("PIN: ");
    let _ = std::io::stderr().flush();
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).map_err(fail)?;
    let pin = read_line(&mut stdin.lock());
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved).map_err(fail)?;
    pin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_the_pin() {
        assert_eq!(read_line(&mut &b"0005\nmore\n"[..]).unwrap(), "0005");
        assert_eq!(read_line(&mut &b"2468\r\n"[..]).unwrap(), "2468");
        assert_eq!(read_line(&mut &b"1357"[..]).unwrap(), "1357");
        assert!(read_line(&mut &b"\n"[..]).is_err());
        assert!(read_line(&mut &b""[..]).is_err());
    }

    #[test]
    fn no_flag_no_pin() {
        assert_eq!(PinArg::default().get().unwrap(), None);
    }
}
