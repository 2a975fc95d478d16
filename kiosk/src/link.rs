//! The connection to the edge-agent's local API, on background threads: one carries
//! requests and replies, a second carries the document scanner's slow requests (a feeder
//! batch takes minutes, and thumbnails must not wait behind it), and a third holds a
//! `subscribe` connection for pushes and notices when the agent goes away. Results come
//! back as [`Input`]s through a sink.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use rong_agent_client::{Client, Error};
use rong_protocol::api::{Push, RequestOp};

use crate::machine::Input;

/// Where background results go (the UI thread drains them).
pub type Sink = Arc<dyn Fn(Input) + Send + Sync>;

/// Sends requests to the agent.
pub trait Link {
    /// Sends `op`; the answer arrives later as `Input::Reply` or `Input::Lost` with `tag`.
    fn send(&self, tag: u64, op: RequestOp);
}

/// How long to wait before trying an unreachable agent again.
const RETRY: Duration = Duration::from_millis(300);
/// How long one request may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a scan or packaging request may take: a full feeder at 300 dpi, or a big bag.
const SCAN_TIMEOUT: Duration = Duration::from_secs(600);

/// The real link over the Unix socket.
#[derive(Debug)]
pub struct SocketLink {
    tx: Sender<(u64, RequestOp)>,
    slow: Sender<(u64, RequestOp)>,
}

/// Whether `op` goes on the slow lane.
fn is_slow(op: &RequestOp) -> bool {
    matches!(
        op,
        RequestOp::JobScan { .. } | RequestOp::PageRescan { .. } | RequestOp::JobFinish { .. }
    )
}

impl SocketLink {
    /// Starts the three threads. They live as long as the process.
    pub fn spawn(socket: &Path, sink: Sink) -> std::io::Result<SocketLink> {
        let tx = Lane::Quick.spawn(socket, &sink)?;
        let slow = Lane::Slow.spawn(socket, &sink)?;
        let path = socket.to_owned();
        std::thread::Builder::new()
            .name("kiosk-pushes".into())
            .spawn(move || pushes(&path, &sink))?;
        Ok(SocketLink { tx, slow })
    }
}

impl Link for SocketLink {
    fn send(&self, tag: u64, op: RequestOp) {
        let lane = if is_slow(&op) { &self.slow } else { &self.tx };
        if lane.send((tag, op)).is_err() {
            tracing::error!(tag, "request thread gone");
        }
    }
}

/// Which requests a thread carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Everything quick.
    Quick,
    /// Scans and packaging, which may take minutes.
    Slow,
}

impl Lane {
    /// Starts the thread that carries this lane's requests; send them down the result.
    fn spawn(self, socket: &Path, sink: &Sink) -> std::io::Result<Sender<(u64, RequestOp)>> {
        // Unbounded: one request per screen action, each waiting for its answer in turn.
        let (tx, rx) = mpsc::channel();
        let (path, sink) = (socket.to_owned(), sink.clone());
        let name = match self {
            Lane::Quick => "kiosk-requests",
            Lane::Slow => "kiosk-scans",
        };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || requests(&path, rx, &sink, self))?;
        Ok(tx)
    }
}

fn requests(path: &Path, rx: Receiver<(u64, RequestOp)>, sink: &Sink, lane: Lane) {
    let mut conn: Option<Client> = None;
    let timeout = match lane {
        Lane::Quick => REPLY_TIMEOUT,
        Lane::Slow => SCAN_TIMEOUT,
    };
    for (tag, op) in rx {
        if conn.is_none() {
            conn = Client::connect(path, Some(timeout)).ok();
        }
        let Some(c) = conn.as_mut() else {
            sink(Input::Lost { tag });
            continue;
        };
        // The client passes over pushes: the agent broadcasts `page_scanned` to every
        // subscriber, so the push thread sees a batch's pages while the slow lane waits for
        // the batch to end.
        match c.request(op) {
            Ok(answer) => sink(Input::Reply {
                tag,
                result: answer.outcome(),
            }),
            Err(e) => {
                tracing::warn!(tag, error = %e, "request lost");
                conn = None;
                sink(Input::Lost { tag });
            }
        }
    }
}

fn pushes(path: &Path, sink: &Sink) {
    let mut up = None;
    loop {
        let result = Client::connect(path, None)
            .and_then(Client::subscribe)
            .and_then(|mut sub| -> Result<(), Error> {
                if up != Some(true) {
                    tracing::info!(socket = %path.display(), "agent reachable");
                    sink(Input::Connected);
                    up = Some(true);
                }
                loop {
                    match sub.next_push() {
                        Ok(p) => {
                            if let Some(input) = push_input(p) {
                                sink(input)
                            }
                        }
                        Err(e @ Error::Decode { .. }) => {
                            tracing::warn!(error = %e, "unknown line from agent")
                        }
                        Err(e) => return Err(e),
                    }
                }
            });
        if let Err(e) = result {
            if up != Some(false) {
                tracing::warn!(socket = %path.display(), error = %e, "agent unreachable");
                sink(Input::Disconnected);
                up = Some(false);
            }
        }
        std::thread::sleep(RETRY);
    }
}

/// What a push means to the screen; `None` for pushes the screen does not use.
fn push_input(p: Push) -> Option<Input> {
    Some(match p {
        Push::Barcode { code } => Input::Barcode(code),
        Push::CardPresent { uid } => Input::CardPresent(uid),
        Push::CardRemoved => Input::CardRemoved,
        Push::Message { text, .. } => Input::Message(text),
        Push::PageScanned { job, page } => Input::PageScanned { job, page },
    })
}
