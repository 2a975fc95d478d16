//! `GET /api/v1/snapshot/{branch}`: gzip JSON lines, streamed as they are read, ending
//! with a trailer that carries their digest, signed by central.

use std::io::Write;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use flate2::write::GzEncoder;
use flate2::Compression;
use rong_protocol::delta::{snapshot_context, SnapshotTrailer};
use rong_protocol::ids::BranchId;
use sha2::Digest as _;
use tokio::sync::mpsc;

use super::{ApiError, ApiState};
use central_store::identity::AuthedDevice;
use central_store::snapshot::{branch_exists, write_snapshot};

/// Sends what is written in 64 KiB pieces down a channel, blocking when the client is slow.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Vec<u8>>>,
    buf: Vec<u8>,
}

const PIECE: usize = 64 * 1024;

impl ChannelWriter {
    fn ship(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.ship()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.ship()
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    sha: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.sha.update(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The handler: a device gets only its own branch's snapshot.
#[tracing::instrument(skip_all, fields(branch = %branch))]
pub async fn snapshot(
    State(st): State<ApiState>,
    Extension(device): Extension<AuthedDevice>,
    Path(branch): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let branch = BranchId::new(branch).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if branch != device.branch {
        tracing::warn!(device = %device.device, own = %device.branch, asked = %branch, "a device asked for another branch's snapshot");
        return Err(ApiError::Forbidden(format!(
            "device {} may fetch only branch {}'s snapshot",
            device.device, device.branch
        )));
    }
    let b = branch.clone();
    if !st.reads.run(move |c| branch_exists(c, &b)).await? {
        return Err(ApiError::NotFound(format!("branch {branch} not found")));
    }
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    let reads = st.reads.clone();
    let metrics = st.metrics.clone();
    let envelopes = st.envelopes.clone();
    tokio::task::spawn_blocking(move || {
        let err_tx = tx.clone();
        let result = reads.blocking(
            |conn| -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
                let gz = GzEncoder::new(
                    ChannelWriter {
                        tx,
                        buf: Vec::with_capacity(PIECE),
                    },
                    Compression::fast(),
                );
                let mut out = std::io::BufWriter::with_capacity(PIECE, gz);
                let mut hashed = Hashing {
                    inner: &mut out,
                    sha: sha2::Sha256::new(),
                };
                let version = write_snapshot(conn, &branch, &mut hashed)?;
                // The trailer: the digest of every line above, signed for this branch and
                // version, so a device loads only what central sent whole.
                let sha256: String = hashed
                    .sha
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let context = snapshot_context(&branch, version);
                let trailer = SnapshotTrailer {
                    signature: envelopes.sign_detached(&context, sha256.as_bytes()),
                    sha256,
                };
                serde_json::to_writer(&mut out, &trailer)?;
                out.write_all(b"\n")?;
                let gz = out.into_inner().map_err(|e| e.into_error())?;
                let mut w = gz.finish()?;
                w.flush()?;
                Ok(version)
            },
        );
        match result {
            Ok(version) => {
                metrics.snapshot_served();
                tracing::info!(branch = %branch, version, "snapshot served");
            }
            Err(e) => {
                tracing::warn!(branch = %branch, error = %e, "snapshot aborted");
                let _ = err_tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    ))
}
