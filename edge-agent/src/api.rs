//! The local API: JSON lines over a Unix socket, one task per connection.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use rong_protocol::api::{ApiError, ErrorCode, Push, Request, RequestOp, Response, MAX_LINE};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, watch};

use crate::agent::Agent;

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
pub async fn serve(listener: UnixListener, agent: Arc<Agent>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(agent.clone(), stream, shutdown.clone()));
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
async fn connection(agent: Arc<Agent>, stream: UnixStream, mut shutdown: watch::Receiver<bool>) {
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
                    let sub = agent.pushes.subscribe();
                    pushes = Some(tokio::spawn(forward_pushes(sub, tx.clone())));
                }
                line(&Response::ok(id, rong_protocol::api::Reply::Done))
            }
            Ok(Request { id, op }) => {
                let a = agent.clone();
                let res = tokio::task::spawn_blocking(move || a.handle(op)).await;
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
