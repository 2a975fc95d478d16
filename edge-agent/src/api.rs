//! The local API: JSON lines over a Unix socket, one task per connection, each request
//! routed by [`Dispatch`] to the service that owns it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use rong_protocol::api::{
    ApiError, ErrorCode, Push, Reply, Request, RequestOp, Response, MAX_LINE,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, watch, Notify};

use crate::circulation::Circulation;
use crate::digitise::Digitise;
use crate::hardware::Hardware;
use crate::status::Status;

/// Routes each request to the service that owns it: circulation, digitisation, the status,
/// the devices, or the sync loop's wake-up.
#[derive(Debug)]
pub struct Dispatch {
    // Built only by `Services::build`, which hands each service over as it wires them.
    pub(crate) circulation: Arc<Circulation>,
    pub(crate) digitise: Arc<Digitise>,
    pub(crate) status: Arc<Status>,
    pub(crate) hardware: Arc<Hardware>,
    /// Subscribers get what the devices read and what the services announce.
    pub(crate) pushes: broadcast::Sender<Push>,
    /// Wakes the sync loop for `sync_now`.
    pub(crate) sync_now: Arc<Notify>,
    /// Where `enrol` hands a code while the board is not enrolled (`None` once it is).
    pub(crate) enrol: Arc<std::sync::Mutex<Option<tokio::sync::mpsc::Sender<String>>>>,
}

impl Dispatch {
    /// Answers one request (all but `subscribe`, which the connection handles). Blocks
    /// (SQLite, argon2, the scanner): call it from `spawn_blocking`.
    pub fn handle(&self, op: RequestOp) -> Result<Reply, ApiError> {
        let c = &self.circulation;
        let hw = &self.hardware;
        match op {
            RequestOp::Identify(who) => c.identify(&who),
            RequestOp::EndSession { session } => c.end_session(&session),
            RequestOp::Checkout { who, item } => c.checkout(&who, &item),
            RequestOp::Checkin { item } => c.checkin(&item),
            RequestOp::Renew { who, item } => c.renew(&who, &item),
            RequestOp::Loans(who) => c.loans(&who),
            RequestOp::Search { q, limit } => c.search(&q, limit),
            RequestOp::PrintReceipt { session, items } => c.print_receipt(&session, &items),
            RequestOp::Status => self.status.agent().map(Reply::Status).map_err(|e| {
                tracing::error!(error = %e, "store failure");
                ApiError::new(ErrorCode::Internal, "")
            }),
            RequestOp::SyncNow => {
                self.sync_now.notify_one();
                Ok(Reply::Done)
            }
            RequestOp::Enrol { code } => self.enrol(code),
            RequestOp::Subscribe => Ok(Reply::Done),
            RequestOp::SimScan { code } => hw.sim_scan(&code).map(|()| Reply::Done),
            RequestOp::SimTap { uid } => hw.sim_tap(&uid).map(|()| Reply::Done),
            RequestOp::SimRemove => hw.sim_remove().map(|()| Reply::Done),
            RequestOp::SimPrinter { state } => hw.sim_printer(state).map(|()| Reply::Done),
            RequestOp::Signal { signal } => {
                hw.signal(signal);
                Ok(Reply::Done)
            }
            op @ (RequestOp::JobStart { .. }
            | RequestOp::JobList { .. }
            | RequestOp::JobGet { .. }
            | RequestOp::JobScan { .. }
            | RequestOp::PageRescan { .. }
            | RequestOp::PageDelete { .. }
            | RequestOp::PageMove { .. }
            | RequestOp::PageRotate { .. }
            | RequestOp::PageImage { .. }
            | RequestOp::JobFinish { .. }
            | RequestOp::JobDiscard { .. }
            | RequestOp::SimDocScanner { .. }) => self.digitise.handle(op),
        }
    }

    /// Hands `code` to the enrolment loop of an unenrolled board, which tries it at once
    /// (its outcome shows in the status and the log).
    fn enrol(&self, code: String) -> Result<Reply, ApiError> {
        if !rong_identity::EnrolmentCode::looks_like_one(&code) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "not an enrolment code (RONG-XXXXX-XXXXX-XXXXX-XXXXX)",
            ));
        }
        let tx = self
            .enrol
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(tx) = tx else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "this board is already enrolled",
            ));
        };
        tx.try_send(code).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                "a code is being tried already; try again in a moment",
            )
        })?;
        Ok(Reply::Done)
    }

    /// A new subscriber to the pushes.
    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }
}

/// Binds the socket: removes a stale socket file, refuses when another agent answers on
/// it, and makes it group-accessible (0660).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another agent is listening on {}", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: UnixListener,
    dispatch: Arc<Dispatch>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(dispatch.clone(), stream, shutdown.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
        }
    }
}

fn line<T: serde::Serialize>(msg: &T) -> String {
    // Our own plain types always serialise.
    serde_json::to_string(msg).unwrap_or_default()
}

fn bad_request(id: u64, detail: &str) -> String {
    line(&Response::err(
        id,
        ApiError::new(ErrorCode::BadRequest, detail),
    ))
}

/// The `id` of a line that is JSON but not a valid request, else 0.
fn salvage_id(raw: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_u64()))
        .unwrap_or(0)
}

#[tracing::instrument(skip_all)]
async fn connection(
    dispatch: Arc<Dispatch>,
    stream: UnixStream,
    mut shutdown: watch::Receiver<bool>,
) {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let writer = tokio::spawn(async move {
        while let Some(mut text) = rx.recv().await {
            text.push('\n');
            if wr.write_all(text.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut reader = BufReader::new(rd);
    let mut pushes: Option<tokio::task::JoinHandle<()>> = None;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64 + 1);
        let read = tokio::select! {
            _ = shutdown.changed() => break,
            r = limited.read_until(b'\n', &mut buf) => r,
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "connection read failed");
                break;
            }
        };
        if n == 0 {
            break;
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete && buf.len() > MAX_LINE {
            tracing::warn!(
                limit = MAX_LINE,
                "request line too long; closing the connection"
            );
            let _ = tx.send(bad_request(0, "line too long")).await;
            break;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            if complete {
                continue;
            }
            break;
        }
        let reply = match serde_json::from_slice::<Request>(&buf) {
            Err(e) => bad_request(salvage_id(&buf), &e.to_string()),
            Ok(Request {
                id,
                op: RequestOp::Subscribe,
            }) => {
                if pushes.is_none() {
                    let sub = dispatch.subscribe();
                    pushes = Some(tokio::spawn(forward_pushes(sub, tx.clone())));
                }
                line(&Response::ok(id, Reply::Done))
            }
            Ok(Request { id, op }) => {
                let d = dispatch.clone();
                let res = tokio::task::spawn_blocking(move || d.handle(op)).await;
                match res {
                    Ok(Ok(reply)) => line(&Response::ok(id, reply)),
                    Ok(Err(e)) => line(&Response::err(id, e)),
                    Err(e) => {
                        tracing::error!(error = %e, "request handler failed");
                        line(&Response::err(id, ApiError::new(ErrorCode::Internal, "")))
                    }
                }
            }
        };
        if tx.send(reply).await.is_err() || !complete {
            break;
        }
    }
    if let Some(p) = pushes {
        p.abort();
    }
    drop(tx);
    let _ = writer.await;
}

async fn forward_pushes(mut sub: broadcast::Receiver<Push>, tx: mpsc::Sender<String>) {
    loop {
        match sub.recv().await {
            Ok(p) => {
                if tx.send(line(&p)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "slow subscriber missed pushes");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
