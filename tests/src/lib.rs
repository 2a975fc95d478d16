//! A harness for end-to-end tests: it runs the real `central`, `edge-agent` and Mosquitto
//! programs on free ports in temporary directories, and talks to them the way operators
//! and the kiosk do: HTTP, the agent's Unix socket, and signals.
//!
//! The binaries must be built first (`cargo build --workspace --bins`, which the test
//! script does). Every process is killed when its handle drops.

pub mod agent;
pub mod bag;
pub mod browser;
pub mod central;
pub mod fixtures;
pub mod http;
pub mod mosquitto;
pub mod mqtt;
pub mod netns;
pub mod pages;
pub mod proc;
pub mod proxy;
pub mod sane;
pub mod scenario;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub use agent::{Agent, ApiClient};
pub use central::Central;
pub use mosquitto::Mosquitto;

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Like [`wait_for`], but panics with `what` when the time runs out.
pub fn wait_until(what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
    assert!(
        wait_for(timeout, cond),
        "timed out after {timeout:?} waiting for {what}"
    );
}

/// A port that was free a moment ago, for programs that cannot bind port 0 themselves.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// Whether something accepts TCP connections at `addr`.
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}
