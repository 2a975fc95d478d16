//! The set-up the benchmarks share: a temporary directory, and an agent bootstrapped from
//! a running central's snapshot.

use std::path::Path;
use std::time::{Duration, Instant};

use rong_protocol::api::{Outcome, Reply, RequestOp};
use rong_tests::{Agent, ApiClient, Central};
use tempfile::TempDir;

/// A temporary directory named `{prefix}…`, removed when it drops.
pub fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir")
}

/// Whether the agent answers its local API, holds a catalogue and is online.
fn bootstrapped(agent: &Agent) -> bool {
    ApiClient::connect(&agent.socket)
        .and_then(|mut c| c.try_call(RequestOp::Status))
        .ok()
        .is_some_and(|r| match r.outcome {
            Outcome::Ok {
                result: Reply::Status(s),
                ..
            } => s.online && s.catalogue_version > 0,
            _ => false,
        })
}

/// Prepares the kiosk `kontum-kiosk-1` under `dir` against `central`, starts it, and waits
/// up to `timeout` until it has loaded the snapshot and is online; returns it and the time
/// that took. The agent answers nothing while it loads a large snapshot, so unanswered
/// calls only mean "not yet".
pub fn bootstrap_agent(dir: &Path, central: &Central, timeout: Duration) -> (Agent, Duration) {
    bootstrap_agent_tls(dir, central, timeout, None)
}

/// Like [`bootstrap_agent`]; with `ca_file` (a copy of central's CA) the agent speaks
/// `https://` and `mqtts://` to a central with TLS on.
pub fn bootstrap_agent_tls(
    dir: &Path,
    central: &Central,
    timeout: Duration,
    ca_file: Option<&Path>,
) -> (Agent, Duration) {
    let mut agent = Agent::prepare_enrolled(
        dir,
        central,
        "kontum-kiosk-1",
        "kontum",
        &central.http.to_string(),
        "",
    );
    if let Some(ca) = ca_file {
        agent.use_tls(ca);
    }
    let t = Instant::now();
    agent.start();
    let end = Instant::now() + timeout;
    while !bootstrapped(&agent) {
        assert!(Instant::now() < end, "the agent never loaded the snapshot");
        std::thread::sleep(Duration::from_millis(100));
    }
    (agent, t.elapsed())
}
