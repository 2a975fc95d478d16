//! The client against a small scripted server on a Unix socket in a temp dir.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::thread::JoinHandle;

use rong_protocol::api::{ApiError, ErrorCode, Push, Reply, Request, RequestOp, Response};

use super::*;

/// A server that accepts one connection and answers each request line with the lines
/// `script` returns for it. It hangs up when `script` returns `None`, or at a line
/// [`HANG_UP`], and stops when the client leaves.
struct Server {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    thread: Option<JoinHandle<Vec<Request>>>,
}

impl Server {
    fn start(mut script: impl FnMut(&Request) -> Option<Vec<String>> + Send + 'static) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut writer = stream.try_clone().unwrap();
            let mut seen = Vec::new();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let req: Request = serde_json::from_str(&line).unwrap();
                let Some(out) = script(&req) else { break };
                seen.push(req);
                for l in out {
                    if l == HANG_UP {
                        return seen;
                    }
                    if writer.write_all(format!("{l}\n").as_bytes()).is_err() {
                        return seen;
                    }
                }
            }
            seen
        });
        Server {
            _dir: dir,
            socket,
            thread: Some(thread),
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.socket, Some(Duration::from_secs(10))).unwrap()
    }

    /// The requests the server saw, once the client has gone.
    fn requests(mut self, client: Client) -> Vec<Request> {
        drop(client);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Ends the server's connection where it stands in a script.
const HANG_UP: &str = "<hang up>";

fn line<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn done(id: u64) -> String {
    line(&Response::ok(id, Reply::Done))
}

fn barcode(code: &str) -> String {
    line(&Push::Barcode { code: code.into() })
}

#[test]
fn each_call_gets_a_fresh_id_and_its_own_response_past_pushes_and_stale_lines() {
    let server = Server::start(|req| {
        Some(vec![
            barcode("KT1"),
            // A response to an earlier request that the client gave up on.
            line(&Response::err(
                req.id + 100,
                ApiError::new(ErrorCode::Internal, ""),
            )),
            done(req.id),
        ])
    });
    let mut c = server.client();
    assert_eq!(c.call(RequestOp::Status).unwrap(), Reply::Done);
    let answer = c.request(RequestOp::SyncNow).unwrap();
    assert!(answer.is_ok());
    assert_eq!(answer.line, done(2));
    let seen = server.requests(c);
    let ids: Vec<u64> = seen.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(seen[1].op, RequestOp::SyncNow);
}

#[test]
fn a_refusal_is_not_a_transport_failure() {
    let server = Server::start(|req| {
        Some(vec![line(&Response::err(
            req.id,
            ApiError::new(ErrorCode::LoanLimit, ""),
        ))])
    });
    let mut c = server.client();
    let e = c
        .call(RequestOp::Checkin { item: "KT1".into() })
        .unwrap_err();
    assert!(
        matches!(&e, Error::Refused(a) if a.code == ErrorCode::LoanLimit),
        "{e:?}"
    );
    assert!(!e.is_transport());
    assert!(e.to_string().starts_with("refused: loan_limit: "), "{e}");
    // The same answer through `request` is an answer, not an error.
    let answer = c.request(RequestOp::Status).unwrap();
    assert!(!answer.is_ok());
    assert_eq!(answer.outcome().unwrap_err().code, ErrorCode::LoanLimit);
}

#[test]
fn no_agent_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let e = Client::connect(&socket, None).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert!(e.is_transport());
    assert!(
        e.to_string().starts_with("cannot reach the agent at "),
        "{e}"
    );
}

#[test]
fn an_agent_that_hangs_up_or_says_nonsense_is_a_transport_failure() {
    let server = Server::start(|_| None);
    let mut c = server.client();
    let e = c.call(RequestOp::Status).unwrap_err();
    assert!(matches!(e, Error::Closed { .. }), "{e:?}");
    assert!(e.is_transport());
    drop(server);

    let server = Server::start(|_| Some(vec!["this is not json".into()]));
    let mut c = server.client();
    let e = c.call(RequestOp::Status).unwrap_err();
    assert!(
        matches!(&e, Error::Decode { line, .. } if line == "this is not json"),
        "{e:?}"
    );
}

#[test]
fn a_reply_too_long_is_refused_before_it_fills_memory() {
    let server = Server::start(|_| Some(vec!["x".repeat(MAX_REPLY_LINE + 1)]));
    let mut c = server.client();
    let e = c.call(RequestOp::Status).unwrap_err();
    assert!(
        matches!(e, Error::TooLong { limit, .. } if limit == MAX_REPLY_LINE),
        "{e:?}"
    );
}

#[test]
fn a_silent_agent_times_out() {
    let server = Server::start(|_| Some(vec![]));
    let mut c = Client::connect(&server.socket, Some(Duration::from_millis(50))).unwrap();
    let e = c.call(RequestOp::Status).unwrap_err();
    let Error::Io { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(
            source.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e:?}"
    );
}

#[test]
fn raw_lines_go_out_as_they_are_and_the_next_response_line_comes_back() {
    let server = Server::start(|req| Some(vec![barcode("KT2"), done(req.id)]));
    let mut c = server.client();
    let back = c.raw(r#"{"id":41,"op":"status"}"#).unwrap();
    assert_eq!(back, done(41));
    c.send_raw(b"{\"id\":42,\"op\":\"status\"}\n").unwrap();
    assert_eq!(
        c.read_line().unwrap(),
        barcode("KT2"),
        "read_line keeps pushes"
    );
    assert_eq!(c.read_line().unwrap(), done(42));
}

#[test]
fn a_subscription_yields_pushes_one_by_one() {
    let server = Server::start(|req| {
        assert_eq!(req.op, RequestOp::Subscribe);
        Some(vec![
            done(req.id),
            barcode("KT3"),
            r#"{"push":"something_new"}"#.into(),
            line(&Push::CardPresent {
                uid: "04A22B1A".into(),
            }),
            HANG_UP.into(),
        ])
    });
    let mut sub = server.client().subscribe().unwrap();
    assert_eq!(
        sub.next_push().unwrap(),
        Push::Barcode { code: "KT3".into() }
    );
    let e = sub.next_push().unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert_eq!(
        sub.next_line().unwrap(),
        r#"{"push":"card_present","uid":"04A22B1A"}"#
    );
    let e = sub.next_push().unwrap_err();
    assert!(matches!(e, Error::Closed { .. }), "{e:?}");
}

#[test]
fn a_job_reply_reads_with_its_count_and_its_page_list() {
    let server = Server::start(|req| {
        Some(vec![format!(
            r#"{{"id":{},"ok":true,"result":{{"type":"job","job":"J1","title":"Sử thi","state":"open","pages":1,"bytes_total":0,"bytes_sent":0,"created_at":1,"metadata":{{"title":"Sử thi"}},"page_list":[{{"page":4,"position":1,"width":10,"height":20,"dpi":75,"rotation":1,"checks":[{{"check":"blank"}}],"master_bytes":5,"access_bytes":3}}]}}}}"#,
            req.id
        )])
    });
    let mut c = server.client();
    let Reply::Job(j) = c.call(RequestOp::Status).unwrap() else {
        panic!("not a job")
    };
    assert_eq!(j.summary.pages, 1);
    assert_eq!(j.pages[0].page, 4);
    assert_eq!(j.metadata.title, "Sử thi");
}
