//! The connection to the edge-agent's local API, on background threads: one carries
//! requests and replies, a second carries the document scanner's slow requests (a feeder
//! batch takes minutes, and thumbnails must not wait behind it), and a third holds a
//! `subscribe` connection for pushes and notices when the agent goes away. Results come
//! back as [`Input`]s through a sink.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use rong_protocol::api::{Outcome, Push, Request, RequestOp, Response};

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
    /// Starts the two threads. They live as long as the process.
    pub fn spawn(socket: &Path, sink: Sink) -> std::io::Result<SocketLink> {
        let (tx, rx) = mpsc::channel();
        let path = socket.to_owned();
        let s = sink.clone();
        std::thread::Builder::new()
            .name("kiosk-requests".into())
            .spawn(move || requests(&path, rx, &s, Lane::Quick))?;
        let (slow, slow_rx) = mpsc::channel();
        let path = socket.to_owned();
        let s = sink.clone();
        std::thread::Builder::new()
            .name("kiosk-scans".into())
            .spawn(move || requests(&path, slow_rx, &s, Lane::Slow))?;
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

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

fn connect(path: &Path, timeout: Option<Duration>) -> std::io::Result<Conn> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(timeout)?;
    Ok(Conn {
        reader: BufReader::new(s.try_clone()?),
        writer: s,
    })
}

fn read_json(conn: &mut Conn) -> std::io::Result<serde_json::Value> {
    let mut line = String::new();
    if conn.reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "agent closed the connection",
        ));
    }
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// Sends one request and waits for its response, skipping pushes. (The agent broadcasts
/// `page_scanned` to every subscriber, so the push thread sees a batch's pages while the
/// slow lane waits for the batch to end.)
fn call(conn: &mut Conn, id: u64, op: RequestOp) -> std::io::Result<Response> {
    let mut line = serde_json::to_string(&Request { id, op }).map_err(std::io::Error::other)?;
    line.push('\n');
    conn.writer.write_all(line.as_bytes())?;
    loop {
        let v = read_json(conn)?;
        if v.get("push").is_some() {
            continue;
        }
        let r = parse_response(v).map_err(std::io::Error::other)?;
        if r.id == id {
            return Ok(r);
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

fn requests(path: &Path, rx: Receiver<(u64, RequestOp)>, sink: &Sink, lane: Lane) {
    let mut conn: Option<Conn> = None;
    let timeout = match lane {
        Lane::Quick => REPLY_TIMEOUT,
        Lane::Slow => SCAN_TIMEOUT,
    };
    for (tag, op) in rx {
        if conn.is_none() {
            conn = connect(path, Some(timeout)).ok();
        }
        let Some(c) = conn.as_mut() else {
            sink(Input::Lost { tag });
            continue;
        };
        match call(c, tag, op) {
            Ok(r) => sink(Input::Reply {
                tag,
                result: match r.outcome {
                    Outcome::Ok { result, .. } => Ok(result),
                    Outcome::Err { error, .. } => Err(error),
                },
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
        let result = connect(path, None).and_then(|mut c| -> std::io::Result<()> {
            call(&mut c, 0, RequestOp::Subscribe)?;
            if up != Some(true) {
                tracing::info!(socket = %path.display(), "agent reachable");
                sink(Input::Connected);
                up = Some(true);
            }
            loop {
                let v = read_json(&mut c)?;
                match serde_json::from_value::<Push>(v) {
                    Ok(p) => {
                        if let Some(input) = push_input(p) {
                            sink(input)
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unknown line from agent"),
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

/// Reads a response line.
pub fn parse_response(v: serde_json::Value) -> Result<Response, serde_json::Error> {
    serde_json::from_value::<Response>(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::api::Reply;

    #[test]
    fn a_job_reply_reads_with_its_count_and_its_page_list() {
        let line = r#"{"id":7,"ok":true,"result":{"type":"job","job":"J1","title":"Sử thi",
            "state":"open","pages":1,"bytes_total":0,"bytes_sent":0,"created_at":1,
            "metadata":{"title":"Sử thi"},"page_list":[{"page":4,"position":1,"width":10,
            "height":20,"dpi":75,"rotation":1,"checks":[{"check":"blank"}],
            "master_bytes":5,"access_bytes":3}]}}"#;
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let r = parse_response(v).expect("response");
        assert_eq!(r.id, 7);
        match r.outcome {
            Outcome::Ok {
                result: Reply::Job(j),
                ..
            } => {
                assert_eq!(j.summary.pages, 1);
                assert_eq!(j.pages[0].page, 4);
                assert_eq!(j.metadata.title, "Sử thi");
            }
            other => panic!("{other:?}"),
        }
        // Other replies read as before.
        let v = serde_json::json!({"id": 2, "ok": true, "result": {"type": "done"}});
        assert!(parse_response(v).is_ok());
    }
}
