//! Child processes that announce readiness with one JSON line on stdout.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    // Test executables live in target/debug/deps; binaries such as the benchmark in
    // target/debug itself.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("profile dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The path of a workspace binary, with a clear message when it was not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the end-to-end tests",
        p.display()
    );
    p
}

/// A command running workspace binary `name`, inside network namespace `netns` when
/// there is one (`ip netns exec`).
pub fn program(name: &str, netns: Option<&str>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin(name));
            c
        }
        None => Command::new(bin(name)),
    }
}

/// Runs `cmd` to the end and returns its stdout; panics, with its stderr, when it fails.
/// `what` names it in the message (`central seed`).
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes `cmd`'s process die with the test process, so that a test killed from outside
/// (a timeout, the OOM killer) leaves no servers behind. Linux sends the signal when the
/// *thread* that spawned the child exits, so spawn only from the test's own thread.
pub fn die_with_parent(cmd: &mut Command) {
    #[allow(unsafe_code)]
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// A running program, killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
}

impl Proc {
    /// Starts `cmd`, waits up to `timeout` for a stdout line with `"ready":true`, and returns
    /// the process and that line. Stderr goes to `log`. Panics with the log on failure.
    pub fn start_ready(
        name: &str,
        cmd: Command,
        log: &Path,
        timeout: Duration,
    ) -> (Proc, serde_json::Value) {
        Self::try_start_ready(name, cmd, log, timeout).unwrap_or_else(|log_text| {
            panic!("{name} did not become ready within {timeout:?}; its log:\n{log_text}")
        })
    }

    /// Like [`Proc::start_ready`], but returns the program's log when it does not become ready.
    pub fn try_start_ready(
        name: &str,
        mut cmd: Command,
        log: &Path,
        timeout: Duration,
    ) -> Result<(Proc, serde_json::Value), String> {
        let logf = std::fs::File::create(log).expect("create log");
        cmd.stdout(Stdio::piped()).stderr(logf).stdin(Stdio::null());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if v["ready"] == true {
                        let _ = tx.send(v);
                    }
                }
            }
        });
        let mut proc = Proc {
            name: name.to_owned(),
            child: Some(child),
        };
        match rx.recv_timeout(timeout) {
            Ok(v) => Ok((proc, v)),
            Err(_) => {
                proc.kill9();
                Err(std::fs::read_to_string(log).unwrap_or_default())
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kills with SIGKILL and reaps.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for exit; SIGKILL after that. Returns whether
    /// it exited by itself.
    pub fn stop(&mut self, timeout: Duration) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
        let exited = crate::wait_for(timeout, || matches!(c.try_wait(), Ok(Some(_))));
        if !exited {
            tracing_free_warn(&self.name);
            let _ = c.kill();
            let _ = c.wait();
        }
        exited
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

fn tracing_free_warn(name: &str) {
    eprintln!("{name} ignored SIGTERM; killed");
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A workspace server that tests start, kill and restart in place: `<program> <command>
/// --config <config>`, inside a network namespace when one is set, each run's stderr in
/// its own numbered log (`<dir>/<log>-1.log`, `-2`, ...).
#[derive(Debug)]
pub(crate) struct Daemon {
    program: &'static str,
    command: &'static str,
    log: &'static str,
    /// Its directory: config, data and logs.
    pub(crate) dir: PathBuf,
    /// Its config file.
    pub(crate) config: PathBuf,
    netns: Option<String>,
    /// Environment variables set from its next start (`RUST_LOG`, `RONG_*`).
    env: Vec<(String, String)>,
    runs: u32,
    proc: Option<Proc>,
}

impl Daemon {
    /// A stopped daemon.
    pub(crate) fn new(
        program: &'static str,
        command: &'static str,
        log: &'static str,
        dir: PathBuf,
        config: PathBuf,
    ) -> Self {
        Self {
            program,
            command,
            log,
            dir,
            config,
            netns: None,
            env: Vec::new(),
            runs: 0,
            proc: None,
        }
    }

    /// Sets the environment variable `key` to `value` from its next start.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Runs it inside network namespace `name` from its next start.
    pub(crate) fn set_netns(&mut self, name: &str) {
        self.netns = Some(name.to_owned());
    }

    /// Starts it and waits up to `timeout` for its ready line, which it returns; `name`
    /// labels it in messages.
    pub(crate) fn start(&mut self, name: &str, timeout: Duration) -> serde_json::Value {
        assert!(self.proc.is_none(), "{} already running", self.log);
        let mut cmd = program(self.program, self.netns.as_deref());
        cmd.args([self.command, "--config"]).arg(&self.config);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        self.runs += 1;
        let log = self.dir.join(format!("{}-{}.log", self.log, self.runs));
        let (proc, ready) = Proc::start_ready(name, cmd, &log, timeout);
        self.proc = Some(proc);
        ready
    }

    /// The process id, while running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.proc.as_ref().and_then(|p| p.pid())
    }

    /// Kills it with SIGKILL: no chance to clean up.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    /// Stops it with SIGTERM; returns whether it exited by itself (or was not running).
    pub(crate) fn stop(&mut self) -> bool {
        self.proc
            .take()
            .map(|mut p| p.stop(Duration::from_secs(10)))
            .unwrap_or(true)
    }
}
