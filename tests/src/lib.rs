//! Rông's test kit, shared by the crates' tests, the end-to-end tests (`tests/tests`) and
//! the benchmarks (`tests/benches`):
//! - the real programs (`central`, `edge-agent`, Mosquitto) on free ports in temporary
//!   directories, started and waited for until ready, and talked to the way operators and
//!   the kiosk do: HTTP, the agent's Unix socket ([`ApiClient`]), and signals;
//! - one stand-in central ([`stand_in`]) for tests of a device alone;
//! - one set of fixtures ([`fixtures`]): the seeded library, and reference data built from
//!   protocol types;
//! - a browser, a proxy that can hold or cut a link, network namespaces, MQTT clients that
//!   play a device or watch the wire.
//!
//! It links no program's crate (their binaries are run, not linked), so every crate's tests
//! can use it. The binaries must be built first (`cargo build --workspace --bins`, which the
//! test script does). Every process is killed when its handle drops.

pub mod agent;
pub mod bag;
pub mod browser;
pub mod central;
pub mod fixtures;
pub mod fuzz;
pub mod http;
pub mod interop;
pub mod mosquitto;
pub mod mqtt;
pub mod netns;
pub mod proc;
pub mod proxy;
pub mod sane;
pub mod scenario;
pub mod staff;
pub mod stand_in;
pub mod tus;
pub mod watchdog;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub use agent::{Agent, ApiClient};
pub use central::Central;
pub use mosquitto::Mosquitto;

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    poll(timeout, || cond().then_some(())).is_some()
}

/// Like [`wait_for`], but panics with `what` when the time runs out.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    wait_some(what, timeout, || cond().then_some(()));
}

/// Polls `f` until it returns `Some` and returns that value; panics with `what` when
/// `timeout` passes first.
pub fn wait_some<T>(what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(timeout, f).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
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

/// Declares one `#[test]` per broker, each running the same `scenario(BrokerKind)`
/// function: `broker_tests!(scenario: name_embedded => Embedded, name_mosquitto => Mosquitto)`.
#[macro_export]
macro_rules! broker_tests {
    ($scenario:ident: $($name:ident => $kind:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $scenario($crate::scenario::BrokerKind::$kind);
            }
        )+
    };
}
