//! A watchdog for a test that has hung before without a trace: if the test is still running
//! after its time, it prints every thread's stack (through `gdb`, when installed) and
//! aborts, so the next hang leaves its cause in the log instead of a bare timeout.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// Stops the watchdog when dropped (the test finished, passed or panicked).
#[derive(Debug)]
pub struct Watchdog {
    done: Option<Sender<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// Starts a watchdog for the test `name`: after `after`, the stacks of this process's
/// threads go to stderr and the process aborts.
pub fn watchdog(name: &'static str, after: Duration) -> Watchdog {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        // Any message, or the sender dropped, means the test is over.
        if wait.recv_timeout(after) != Err(RecvTimeoutError::Timeout) {
            return;
        }
        // Straight to the stderr file: the test harness captures `eprintln!`, and its buffer is
        // lost when the process aborts.
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "watchdog: {name} still running after {after:?}; every thread's stack:"
        );
        let pid = std::process::id().to_string();
        // gdb stops every thread of this process, this one too: its output goes to a file,
        // not a pipe that this thread would have to drain while stopped.
        let out = std::env::temp_dir().join(format!("rong-watchdog-{pid}.txt"));
        let ran = std::fs::File::create(&out).and_then(|f| {
            Command::new("gdb")
                .args(["-p", &pid, "-batch", "-nx"])
                // No network here: never wait for a debuginfod server.
                .args(["-iex", "set debuginfod enabled off"])
                .args(["-ex", "thread apply all bt"])
                .stdin(Stdio::null())
                .stdout(f)
                .stderr(Stdio::null())
                .status()
        });
        match ran {
            Ok(_) => {
                let _ = writeln!(err, "{}", std::fs::read_to_string(&out).unwrap_or_default());
            }
            Err(e) => {
                let _ = writeln!(err, "watchdog: gdb could not run ({e}); no stacks");
            }
        }
        std::process::abort();
    });
    Watchdog { done: Some(done) }
}
