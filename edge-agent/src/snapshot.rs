//! Snapshots: download central's gzip JSON-lines file to disk, then stream it into the
//! store in one transaction (never holding the whole catalogue in memory).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use rong_protocol::delta::{snapshot_context, Op, SnapshotHeader, SnapshotTrailer};
use rong_protocol::{decode, BranchId, MAX_PAYLOAD};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::store::{Store, StoreError};

/// Why a snapshot was not loaded. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The download failed.
    #[error("snapshot download failed: {0}")]
    Http(String),
    /// Reading or writing the temp file failed.
    #[error("snapshot file: {0}")]
    Io(#[from] std::io::Error),
    /// The file's content was refused.
    #[error("snapshot refused: {0}")]
    Refused(String),
    /// The store refused it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The HTTP client for snapshots: a download that receives nothing for `read_timeout`
/// fails instead of waiting for ever. With `ca_pem`, HTTPS trusts central's CA only.
pub fn http_client(
    read_timeout: std::time::Duration,
    ca_pem: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    crate::tls::http_client(
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(read_timeout),
        ca_pem,
    )
}

/// The one snapshot location a device accepts: its own branch's, on central's own URL.
pub fn own_path(branch: &BranchId) -> String {
    format!("/api/v1/snapshot/{branch}")
}

/// Checks a `SnapshotRequired` location: exactly [`own_path`]. Anything else (another
/// host such as `@evil.host/x`, a scheme, `..`, another branch) is refused, so the URL
/// is only ever central's configured base and this path.
pub fn check_path(path: &str, branch: &BranchId) -> Result<(), SnapshotError> {
    if path == own_path(branch) {
        return Ok(());
    }
    let shown: String = path.chars().take(100).collect();
    Err(SnapshotError::Refused(format!(
        "snapshot location {shown:?} is not this branch's {:?}",
        own_path(branch)
    )))
}

/// Downloads `{base}{path}` to `dest`, the request signed by `signer`, refusing more than `max_bytes` (by its announced
/// length first, then as it arrives): the partial file is removed.
pub async fn download(
    client: &reqwest::Client,
    signer: &rong_identity::Signer,
    base: &str,
    path: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<u64, SnapshotError> {
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let over = |n: u64| {
        SnapshotError::Refused(format!(
            "snapshot of {n} bytes or more exceeds the {max_bytes}-byte limit"
        ))
    };
    let req = client
        .get(&url)
        .build()
        .map_err(|e| SnapshotError::Http(format!("{url}: {e}")))?;
    let mut resp = crate::identity::send(client, signer, req)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| SnapshotError::Http(format!("{url}: {e}")))?;
    if let Some(n) = resp.content_length().filter(|n| *n > max_bytes) {
        return Err(over(n));
    }
    let mut file = tokio::fs::File::create(dest).await?;
    let mut total = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| SnapshotError::Http(format!("{url}: {e}")))?
    {
        total += chunk.len() as u64;
        if total > max_bytes {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(over(total));
        }
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok(total)
}

/// Reads one line of at most [`MAX_PAYLOAD`] bytes; `None` at the end.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<Option<()>, String> {
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_PAYLOAD {
        return Err(format!("line longer than {MAX_PAYLOAD} bytes"));
    }
    Ok(Some(()))
}

/// Loads a downloaded snapshot for `branch` into the store; returns its version. Nothing
/// is kept unless the snapshot ends with a trailer whose digest matches its lines and whose
/// signature checks against `central_key`.
pub fn load(
    store: &mut Store,
    file: &Path,
    branch: &BranchId,
    central_key: &rong_identity::PublicKey,
) -> Result<u64, SnapshotError> {
    let mut reader = BufReader::new(GzDecoder::new(std::fs::File::open(file)?));
    let mut buf = Vec::new();
    read_line(&mut reader, &mut buf)
        .map_err(SnapshotError::Refused)?
        .ok_or_else(|| SnapshotError::Refused("empty snapshot".into()))?;
    let mut digest = Sha256::new();
    digest.update(&buf);
    let header: SnapshotHeader =
        decode(trim(&buf)).map_err(|e| SnapshotError::Refused(format!("header: {e}")))?;
    if &header.branch != branch {
        return Err(SnapshotError::Refused(format!(
            "snapshot is for branch {}, not {branch}",
            header.branch
        )));
    }
    let trailer = Trailer {
        digest,
        context: snapshot_context(branch, header.version),
        key: *central_key,
    };
    // One thread inflates and decodes the lines while this one writes them.
    let count = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Op, String>>>(4);
        scope.spawn(move || decode_ops(reader, buf, trailer, tx));
        // When the store stops early (a bad op), dropping `rx` stops the decoder.
        store.replace_reference(header.version, rx.into_iter().flatten())
    })?;
    tracing::info!(version = header.version, ops = count, "snapshot loaded");
    Ok(header.version)
}

/// Ops decoded per message to the writer.
const DECODED_CHUNK: usize = 1_000;

/// What the trailer is checked against: the digest of the lines so far, the signature's
/// context and central's key.
struct Trailer {
    digest: Sha256,
    context: String,
    key: rong_identity::PublicKey,
}

impl Trailer {
    /// Checks the trailer `line` against the lines before it.
    fn check(&self, line: &[u8]) -> Result<(), String> {
        let t: SnapshotTrailer =
            serde_json::from_slice(line).map_err(|e| format!("trailer: {e}"))?;
        let sha256: String = self
            .digest
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if t.sha256 != sha256 {
            return Err("the snapshot's checksum does not match its lines".into());
        }
        rong_identity::mqtt::open_detached(
            &t.signature,
            &self.context,
            sha256.as_bytes(),
            &self.key,
        )
        .map_err(|e| format!("the snapshot's trailer is not signed by central: {e}"))
    }
}

/// Decodes the snapshot's op lines and sends them in chunks; a bad line is sent as the
/// chunk's last entry and ends the decoding, and so does input that ends without a
/// trailer that checks.
fn decode_ops(
    mut reader: impl BufRead,
    mut buf: Vec<u8>,
    mut trailer: Trailer,
    out: std::sync::mpsc::SyncSender<Vec<Result<Op, String>>>,
) {
    let mut chunk = Vec::with_capacity(DECODED_CHUNK);
    let mut checked = false;
    loop {
        // Whether the input ended (or went bad: nothing after a bad line is read).
        let done = match read_line(&mut reader, &mut buf) {
            Ok(None) => {
                if !checked {
                    chunk.push(Err("the snapshot ends without its signed trailer".into()));
                }
                true
            }
            Err(e) => {
                chunk.push(Err(e));
                true
            }
            Ok(Some(())) if checked => {
                chunk.push(Err("lines after the snapshot's trailer".into()));
                true
            }
            Ok(Some(())) if trim(&buf).starts_with(b"{\"sha256\"") => {
                match trailer.check(trim(&buf)) {
                    Ok(()) => {
                        checked = true;
                        false
                    }
                    Err(e) => {
                        chunk.push(Err(e));
                        true
                    }
                }
            }
            Ok(Some(())) => {
                trailer.digest.update(&buf);
                let line = trim(&buf);
                if line.is_empty() {
                    false
                } else {
                    // Held to the same limits as a delta's ops.
                    let op = serde_json::from_slice::<Op>(line)
                        .map_err(|e| e.to_string())
                        .and_then(|op| op.check_lengths().map(|()| op).map_err(|e| e.0));
                    let bad = op.is_err();
                    chunk.push(op);
                    bad
                }
            }
        };
        if done || chunk.len() >= DECODED_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(DECODED_CHUNK));
            if !full.is_empty() && out.send(full).is_err() {
                return;
            }
        }
        if done {
            return;
        }
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use rong_protocol::delta::{Category, Op};
    use std::io::Write;

    fn central() -> rong_identity::KeyPair {
        rong_identity::KeyPair::from_secret([7; 32])
    }

    fn gz(lines: &[String]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for l in lines {
            e.write_all(l.as_bytes()).unwrap();
            e.write_all(b"\n").unwrap();
        }
        e.finish().unwrap()
    }

    /// The trailer central writes after `lines`, for `branch` at `version`, signed by `key`.
    fn trailer(
        lines: &[String],
        branch: &str,
        version: u64,
        key: &rong_identity::KeyPair,
    ) -> String {
        let mut sha = Sha256::new();
        for l in lines {
            sha.update(l.as_bytes());
            sha.update(b"\n");
        }
        let sha256: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let ctx = snapshot_context(&BranchId::new(branch).unwrap(), version);
        serde_json::to_string(&SnapshotTrailer {
            signature: key.seal_detached(&ctx, 1, sha256.as_bytes()),
            sha256,
        })
        .unwrap()
    }

    /// `lines` with their signed trailer.
    fn signed(lines: &[String], branch: &str, version: u64) -> Vec<u8> {
        let mut all = lines.to_vec();
        all.push(trailer(lines, branch, version, &central()));
        gz(&all)
    }

    fn header(branch: &str, version: u64) -> String {
        serde_json::to_string(&SnapshotHeader {
            v: 1,
            branch: BranchId::new(branch).unwrap(),
            version,
        })
        .unwrap()
    }

    fn cat(id: &str) -> String {
        serde_json::to_string(&Op::PutCategory(Category {
            id: id.into(),
            name: "Thiếu nhi".into(),
            max_loans: 3,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_stalled_download_fails() {
        // Headers and a little of the body, then silence with the connection left open.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let _ = std::io::Read::read(&mut conn, &mut req);
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nabc")
                .unwrap();
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut conn, &mut rest);
        });
        let dir = tempfile::tempdir().unwrap();
        let client = http_client(std::time::Duration::from_millis(300), None).unwrap();
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            download(
                &client,
                &rong_identity::Signer::new("kiosk-1", rong_identity::KeyPair::generate()),
                &format!("http://{addr}"),
                "/api/v1/snapshot/kontum",
                &dir.path().join("snap"),
                1 << 20,
            ),
        )
        .await
        .expect("a stalled download must not hang");
        assert!(matches!(res, Err(SnapshotError::Http(_))), "{res:?}");
        drop(server);
    }

    #[test]
    fn loads_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("agent.db")).unwrap();
        let kontum = BranchId::new("kontum").unwrap();
        let file = dir.path().join("snap.gz");

        let key = central().public();
        std::fs::write(
            &file,
            signed(
                &[header("kontum", 42), cat("child"), String::new()],
                "kontum",
                42,
            ),
        )
        .unwrap();
        assert_eq!(load(&mut store, &file, &kontum, &key).unwrap(), 42);
        assert_eq!(store.version().unwrap(), 42);
        assert!(store.category("child").unwrap().is_some());

        let good = [header("kontum", 50), cat("adult")];
        let mut tampered = good.to_vec();
        tampered.push(trailer(&good, "kontum", 50, &central()));
        tampered[1] = tampered[1].replace("Thiếu nhi", "Người lớn");
        let mut foreign = good.to_vec();
        foreign.push(trailer(
            &good,
            "kontum",
            50,
            &rong_identity::KeyPair::generate(),
        ));
        let mut other_version = good.to_vec();
        other_version.push(trailer(&good, "kontum", 49, &central()));
        let mut after = good.to_vec();
        after.push(trailer(&good, "kontum", 50, &central()));
        after.push(cat("staff"));
        for bad in [
            signed(&[header("dakto", 50), cat("adult")], "dakto", 50),
            signed(
                &[r#"{"v":2,"branch":"kontum","version":50}"#.into()],
                "kontum",
                50,
            ),
            signed(
                &[header("kontum", 50), cat("adult"), "{broken".into()],
                "kontum",
                50,
            ),
            // No trailer, a changed line, another key, another version, lines after it.
            gz(&good),
            gz(&tampered),
            gz(&foreign),
            gz(&other_version),
            gz(&after),
            gz(&[]),
            b"not gzip at all".to_vec(),
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(load(&mut store, &file, &kontum, &key).is_err());
            assert_eq!(store.version().unwrap(), 42, "nothing changed");
            assert!(store.category("adult").unwrap().is_none());
        }
    }
}
