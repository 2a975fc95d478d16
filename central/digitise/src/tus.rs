//! The storage behind the tus 1.0 upload endpoint (`/files/`): one data file and one JSON
//! info file per upload under `{data_dir}/uploads/`.
//!
//! A chunk is checked (offset, size, checksum) before a byte is written; it is written and
//! synced, then the info file records the new offset (written to a temporary name, synced
//! and renamed). So the offset central confirms always survives a crash, and bytes past it
//! (a chunk written but never confirmed) are cut off before the next chunk is written.
//!
//! Expiration (the tus `expiration` extension): an upload untouched (no chunk) for
//! `[uploads] expire_hours` is expired: it answers `410 Gone` until [`Uploads::reap`]
//! deletes its files, then `404`. The station then starts that file again from zero.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rong_protocol::digitise::upload_meta;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The tus protocol version central speaks.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions central supports.
pub const TUS_EXTENSIONS: &str = "creation,checksum,expiration";
/// The checksum algorithms central supports.
pub const TUS_CHECKSUM_ALGORITHMS: &str = "sha1,sha256";

/// What went wrong with an upload request.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    /// A header or metadata value is missing or malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The file (or chunk) is larger than central accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The upload names another device than the one that sends it.
    #[error("{0}")]
    Forbidden(String),
    /// The device's uploads would pass its quota.
    #[error("{0}")]
    OverQuota(String),
    /// Central's disk would fall below its free-space reserve.
    #[error("{0}")]
    NoSpace(String),
    /// No such upload.
    #[error("upload {0} not found")]
    NotFound(String),
    /// The upload was untouched too long and is (being) deleted.
    #[error("upload {0} expired")]
    Expired(String),
    /// The chunk does not start where the upload stands.
    #[error("upload offset is {expected}, the chunk starts at {got}")]
    OffsetMismatch {
        /// The confirmed offset.
        expected: u64,
        /// The offset the client sent.
        got: u64,
    },
    /// The chunk's checksum does not match its bytes; nothing was kept.
    #[error("checksum mismatch: the chunk was dropped")]
    ChecksumMismatch,
    /// The disk failed.
    #[error("upload storage: {0}")]
    Io(#[from] std::io::Error),
    /// An info file did not parse.
    #[error("upload info file is invalid: {0}")]
    Info(#[from] serde_json::Error),
}

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// An `Upload-Checksum` header: the algorithm and the expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The expected digest bytes.
    pub digest: Vec<u8>,
}

impl Checksum {
    /// Parses `sha256 <base64>` (or `sha1 ...`).
    pub fn parse(header: &str) -> Result<Checksum, TusError> {
        let (name, value) = header.trim().split_once(' ').ok_or_else(|| {
            TusError::BadRequest("Upload-Checksum must be `<algorithm> <base64>`".into())
        })?;
        let algorithm = match name {
            "sha1" => Algorithm::Sha1,
            "sha256" => Algorithm::Sha256,
            other => {
                return Err(TusError::BadRequest(format!(
                "unsupported checksum algorithm {other:?} (supported: {TUS_CHECKSUM_ALGORITHMS})"
            )))
            }
        };
        let digest = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| TusError::BadRequest(format!("Upload-Checksum is not base64: {e}")))?;
        Ok(Checksum { algorithm, digest })
    }

    /// Whether `bytes` have this checksum.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        match self.algorithm {
            Algorithm::Sha1 => Sha1::digest(bytes).as_slice() == self.digest.as_slice(),
            Algorithm::Sha256 => Sha256::digest(bytes).as_slice() == self.digest.as_slice(),
        }
    }
}

/// The longest `Upload-Metadata` header taken: the station sends a file name and a few
/// short fields, well under this.
pub const MAX_METADATA_BYTES: usize = 4096;

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs (a value may be absent),
/// at most [`MAX_METADATA_BYTES`] long.
pub fn parse_metadata(header: &str) -> Result<BTreeMap<String, String>, TusError> {
    if header.len() > MAX_METADATA_BYTES {
        return Err(TusError::BadRequest(format!(
            "Upload-Metadata is {} bytes, over the limit of {MAX_METADATA_BYTES}",
            header.len()
        )));
    }
    let mut out = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        if key.is_empty() || !key.is_ascii() || key.contains(' ') {
            return Err(TusError::BadRequest(format!(
                "bad Upload-Metadata key {key:?}"
            )));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| {
                TusError::BadRequest(format!("Upload-Metadata {key} is not base64: {e}"))
            })?;
        let value = String::from_utf8(bytes)
            .map_err(|_| TusError::BadRequest(format!("Upload-Metadata {key} is not UTF-8")))?;
        if out.insert(key.to_owned(), value).is_some() {
            return Err(TusError::BadRequest(format!(
                "Upload-Metadata repeats {key}"
            )));
        }
    }
    Ok(out)
}

/// Checks a path inside a bag: relative, `/`-separated, no `.` or `..` part, no empty part,
/// no backslash or control character.
pub fn check_bag_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.starts_with('/') {
        return Err(format!("path {path:?} is absolute"));
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err(format!(
            "path {path:?} holds a backslash or a control character"
        ));
    }
    for part in path.split('/') {
        match part {
            "" => return Err(format!("path {path:?} has an empty part")),
            "." | ".." => return Err(format!("path {path:?} escapes the bag")),
            _ => {}
        }
    }
    Ok(())
}

/// Checks an id used as a single directory name (a job id): letters, digits, `-`, `_`.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{what} {id:?} must be 1 to 128 letters, digits, '-' or '_'"
        ));
    }
    Ok(())
}

/// What central keeps about an upload in its `{id}.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    /// The upload id.
    pub id: String,
    /// Total length, bytes.
    pub length: u64,
    /// Bytes confirmed (written and synced).
    pub offset: u64,
    /// The decoded `Upload-Metadata`.
    pub metadata: BTreeMap<String, String>,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When a chunk last arrived, ms since the epoch (absent in files written before
    /// expiry existed: then the data file's modification time).
    #[serde(default)]
    pub touched_at: Option<i64>,
}

impl UploadInfo {
    /// Every byte is here.
    pub fn is_complete(&self) -> bool {
        self.offset == self.length
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// When it was created or last received a chunk, ms since the epoch.
    pub fn last_touched(&self) -> i64 {
        self.touched_at
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }
}

/// The uploads directory and its limits.
#[derive(Debug)]
pub struct Uploads {
    dir: PathBuf,
    max_file: u64,
    max_chunk: usize,
    /// An upload untouched this long (ms) expires; `None`: never.
    expire_ms: Option<i64>,
    /// One lock per upload, so two `PATCH`es of the same upload never interleave.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// What one device may hold and what the disk must keep free (checked in `quota`).
    pub(crate) room: Room,
}

/// Room for uploads: a quota per device and a free-space reserve (checked in `quota`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Room {
    /// The most upload bytes one device may hold; `None`: no quota.
    pub per_device: Option<u64>,
    /// Bytes the disk under the uploads must keep free.
    pub reserve: u64,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Uploads {
    /// Opens (creating it if needed) the uploads directory.
    pub fn open(dir: PathBuf, max_file: u64, max_chunk: usize) -> Result<Uploads, TusError> {
        fs::create_dir_all(&dir)?;
        Ok(Uploads {
            dir,
            max_file,
            max_chunk,
            expire_ms: None,
            locks: Mutex::new(HashMap::new()),
            room: Room::default(),
        })
    }

    /// Expires uploads untouched for `after` (`None`: never).
    pub fn with_expiry(mut self, after: Option<std::time::Duration>) -> Uploads {
        self.expire_ms = after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self
    }

    /// How long an untouched upload lives, ms (`None`: for ever).
    pub fn expire_ms(&self) -> Option<i64> {
        self.expire_ms
    }

    /// When an upload expires unless a chunk arrives, ms since the epoch (`None`: never).
    pub fn expires_at(&self, info: &UploadInfo) -> Option<i64> {
        self.expire_ms
            .map(|e| info.last_touched().saturating_add(e))
    }

    fn is_expired(&self, info: &UploadInfo, now_ms: i64) -> bool {
        self.expires_at(info).is_some_and(|at| at <= now_ms)
    }

    /// An upload's state for a client at `now_ms`: like [`Uploads::info`], but an expired
    /// upload is [`TusError::Expired`].
    pub fn live_info(&self, id: &str, now_ms: i64) -> Result<UploadInfo, TusError> {
        let info = self.info(id)?;
        if self.is_expired(&info, now_ms) {
            return Err(TusError::Expired(id.to_owned()));
        }
        Ok(info)
    }

    /// The largest file accepted.
    pub fn max_file(&self) -> u64 {
        self.max_file
    }

    /// The largest chunk accepted.
    pub fn max_chunk(&self) -> usize {
        self.max_chunk
    }

    /// The uploads directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where an upload's bytes are.
    pub fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn lock(&self, id: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn write_info(&self, info: &UploadInfo) -> Result<(), TusError> {
        let path = self.info_path(&info.id);
        let tmp = self.dir.join(format!("{}.json.tmp", info.id));
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(info)?)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// Creates an upload of `length` bytes for device `owner` from a raw `Upload-Metadata`
    /// header. The job, path and device are required, the device must be `owner`, the path
    /// must stay inside the bag, and the owner's quota and the disk's reserve must hold the
    /// whole length before any byte arrives.
    pub fn create(
        &self,
        length: u64,
        metadata: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<UploadInfo, TusError> {
        if length > self.max_file {
            return Err(TusError::TooLarge(format!(
                "Upload-Length {length} is over the limit of {} bytes",
                self.max_file
            )));
        }
        let metadata = parse_metadata(metadata)?;
        for key in [upload_meta::JOB, upload_meta::PATH, upload_meta::DEVICE] {
            if metadata.get(key).is_none_or(|v| v.is_empty()) {
                return Err(TusError::BadRequest(format!(
                    "Upload-Metadata must give {key}"
                )));
            }
        }
        if metadata.get(upload_meta::DEVICE).map(String::as_str) != Some(owner) {
            return Err(TusError::Forbidden(format!(
                "Upload-Metadata device must be the sending device, {owner}"
            )));
        }
        if let Some(path) = metadata.get(upload_meta::PATH) {
            check_bag_path(path).map_err(TusError::BadRequest)?;
        }
        self.check_room(owner, length)?;
        if let Some(job) = metadata.get(upload_meta::JOB) {
            check_id("job", job).map_err(TusError::BadRequest)?;
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let data = File::create(self.data_path(&id))?;
        data.sync_all()?;
        let info = UploadInfo {
            id,
            length,
            offset: 0,
            metadata,
            created_at: now_ms,
            touched_at: Some(now_ms),
        };
        self.write_info(&info)?;
        tracing::info!(upload = %info.id, length, job = info.meta(upload_meta::JOB), path = info.meta(upload_meta::PATH), "upload created");
        Ok(info)
    }

    /// An upload's state. Its offset is the last one confirmed (never more than the bytes
    /// actually in the data file).
    pub fn info(&self, id: &str) -> Result<UploadInfo, TusError> {
        if uuid::Uuid::try_parse(id).is_err() {
            return Err(TusError::NotFound(id.to_owned()));
        }
        let text = match fs::read(self.info_path(id)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TusError::NotFound(id.to_owned()))
            }
            Err(e) => return Err(e.into()),
        };
        let mut info: UploadInfo = serde_json::from_slice(&text)?;
        let data = match fs::metadata(self.data_path(id)) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let on_disk = data.as_ref().map_or(0, |m| m.len());
        info.offset = info.offset.min(on_disk);
        if info.touched_at.is_none() {
            // Written before expiry existed: the data file's last write is the last chunk.
            info.touched_at = data
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        }
        Ok(info)
    }

    /// Appends a chunk that starts at `offset` at `now_ms`, after checking the offset, the
    /// size and the checksum; answers the upload with its new confirmed offset once the
    /// bytes are synced. An expired upload takes no more chunks.
    pub fn append(
        &self,
        id: &str,
        offset: u64,
        checksum: Option<&Checksum>,
        chunk: &[u8],
        now_ms: i64,
    ) -> Result<UploadInfo, TusError> {
        let lock = self.lock(id);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut info = self.live_info(id, now_ms)?;
        if offset != info.offset {
            return Err(TusError::OffsetMismatch {
                expected: info.offset,
                got: offset,
            });
        }
        if chunk.len() > self.max_chunk {
            return Err(TusError::TooLarge(format!(
                "chunk of {} bytes is over the limit of {} bytes",
                chunk.len(),
                self.max_chunk
            )));
        }
        let end = offset + chunk.len() as u64;
        if end > info.length {
            return Err(TusError::BadRequest(format!(
                "chunk ends at {end}, past the upload's length {}",
                info.length
            )));
        }
        if let Some(c) = checksum {
            if !c.matches(chunk) {
                tracing::warn!(upload = %id, offset, bytes = chunk.len(), "chunk checksum mismatch; dropped");
                return Err(TusError::ChecksumMismatch);
            }
        }
        let mut f = OpenOptions::new().write(true).open(self.data_path(id))?;
        // Bytes past the confirmed offset were never confirmed: cut them off first.
        f.set_len(offset)?;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(chunk)?;
        f.sync_data()?;
        drop(f);
        info.offset = end;
        info.touched_at = Some(now_ms);
        self.write_info(&info)?;
        if info.is_complete() {
            tracing::info!(upload = %id, length = info.length, "upload complete");
        }
        Ok(info)
    }

    /// Deletes every upload expired at `now_ms` (complete or not), and leftovers (a data
    /// file without its info, a temporary info file) older than the expiry. Returns the
    /// uploads deleted. Each is deleted under its lock, so a chunk in flight finishes
    /// first (and then keeps the upload alive).
    pub fn reap(&self, now_ms: i64) -> Result<Vec<String>, TusError> {
        let Some(expire) = self.expire_ms else {
            return Ok(Vec::new());
        };
        let mut reaped = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if uuid::Uuid::try_parse(id).is_err() {
                continue;
            }
            let lock = self.lock(id);
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let info = match self.info(id) {
                Ok(info) => info,
                Err(TusError::NotFound(_)) => continue,
                Err(e) => {
                    tracing::warn!(upload = %id, error = %e, "upload info unreadable; left alone");
                    continue;
                }
            };
            if self.is_expired(&info, now_ms) {
                self.remove(id)?;
                tracing::info!(
                    upload = %id,
                    offset = info.offset,
                    length = info.length,
                    job = info.meta(upload_meta::JOB),
                    path = info.meta(upload_meta::PATH),
                    "expired upload deleted"
                );
                reaped.push(id.to_owned());
            }
        }
        // Leftovers: a data file whose info never got written (a crash in `create`), or a
        // temporary info file; judged by their modification time.
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let orphan_data =
                uuid::Uuid::try_parse(&name).is_ok() && !self.info_path(&name).exists();
            if !(orphan_data || name.ends_with(".json.tmp")) {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            if modified.is_some_and(|m| m.saturating_add(expire) <= now_ms) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => tracing::info!(file = %name, "upload leftover deleted"),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(reaped)
    }

    /// Deletes an upload (its data and info files); an absent one is not an error.
    pub fn remove(&self, id: &str) -> Result<(), TusError> {
        if uuid::Uuid::try_parse(id).is_err() {
            return Ok(());
        }
        for p in [self.info_path(id), self.data_path(id)] {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.remove(id);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// The device the test uploads belong to.
    pub(crate) const OWNER: &str = "kt-01-kiosk";

    /// `Upload-Metadata` for a kiosk of `kt-01` sending `path` of `job`.
    pub(crate) fn meta(job: &str, path: &str) -> String {
        let pairs = [
            ("job", job),
            ("path", path),
            ("device", "kt-01-kiosk"),
            ("branch", "kt-01"),
        ];
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k} {}", b64(v.as_bytes())))
            .collect();
        encoded.join(",")
    }

    #[test]
    fn metadata_parses_base64_values_and_empty_ones() {
        let m = parse_metadata(&format!("path {},flag", b64("data/ảnh.jpg".as_bytes()))).unwrap();
        assert_eq!(m["path"], "data/ảnh.jpg");
        assert_eq!(m["flag"], "");
        assert!(parse_metadata("path !!!").is_err());
        assert!(parse_metadata("a YQ==,a YQ==").is_err());
    }

    #[test]
    fn bag_paths_stay_inside_the_bag() {
        for ok in ["bagit.txt", "data/access/0001.jpg"] {
            assert!(check_bag_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "data/../../x",
            "data//x",
            "./x",
            "data\\x",
            "a\nb",
        ] {
            assert!(check_bag_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_id("job", "01J-abc_9").is_ok());
        assert!(check_id("job", "a/b").is_err());
        assert!(check_id("job", "..").is_err());
    }

    #[test]
    fn checksum_header_parses_and_checks() {
        let c = Checksum::parse(&format!("sha256 {}", b64(&Sha256::digest(b"abc")))).unwrap();
        assert!(c.matches(b"abc"));
        assert!(!c.matches(b"abd"));
        let c = Checksum::parse(&format!("sha1 {}", b64(&Sha1::digest(b"abc")))).unwrap();
        assert!(c.matches(b"abc"));
        assert!(Checksum::parse("md5 AAAA").is_err());
        assert!(Checksum::parse("sha256").is_err());
    }

    #[test]
    fn create_requires_job_path_device_and_a_safe_path() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 100, 10).unwrap();
        assert!(matches!(
            u.create(5, &meta("j1", "../x"), OWNER, 0),
            Err(TusError::BadRequest(_))
        ));
        assert!(matches!(
            u.create(5, &format!("job {}", b64(b"j1")), OWNER, 0),
            Err(TusError::BadRequest(_))
        ));
        assert!(matches!(
            u.create(101, &meta("j1", "bagit.txt"), OWNER, 0),
            Err(TusError::TooLarge(_))
        ));
        let info = u.create(5, &meta("j1", "bagit.txt"), OWNER, 0).unwrap();
        assert_eq!(info.offset, 0);
        assert_eq!(u.info(&info.id).unwrap().meta("path"), Some("bagit.txt"));
        assert!(matches!(u.info("../../etc"), Err(TusError::NotFound(_))));
    }

    #[test]
    fn append_checks_offset_checksum_and_length_and_keeps_only_good_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 100, 4).unwrap();
        let id = u.create(6, &meta("j1", "bagit.txt"), OWNER, 0).unwrap().id;
        assert_eq!(u.append(&id, 0, None, b"abc", 0).unwrap().offset, 3);
        assert!(matches!(
            u.append(&id, 0, None, b"abc", 0),
            Err(TusError::OffsetMismatch {
                expected: 3,
                got: 0
            })
        ));
        let wrong = Checksum::parse(&format!("sha256 {}", b64(&Sha256::digest(b"xyz")))).unwrap();
        assert!(matches!(
            u.append(&id, 3, Some(&wrong), b"def", 0),
            Err(TusError::ChecksumMismatch)
        ));
        assert_eq!(u.info(&id).unwrap().offset, 3);
        assert_eq!(fs::read(u.data_path(&id)).unwrap(), b"abc");
        assert!(matches!(
            u.append(&id, 3, None, b"defgh", 0),
            Err(TusError::TooLarge(_))
        ));
        assert!(matches!(
            u.append(&id, 3, None, b"defg", 0),
            Err(TusError::BadRequest(_))
        ));
        let right = Checksum::parse(&format!("sha256 {}", b64(&Sha256::digest(b"def")))).unwrap();
        assert_eq!(u.append(&id, 3, Some(&right), b"def", 0).unwrap().offset, 6);
        assert!(u.info(&id).unwrap().is_complete());
        assert_eq!(fs::read(u.data_path(&id)).unwrap(), b"abcdef");
        u.remove(&id).unwrap();
        assert!(matches!(u.info(&id), Err(TusError::NotFound(_))));
    }

    #[test]
    fn bytes_written_but_never_confirmed_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 100, 10).unwrap();
        let id = u.create(8, &meta("j1", "bagit.txt"), OWNER, 0).unwrap().id;
        u.append(&id, 0, None, b"abcd", 0).unwrap();
        // A crash after the data was written but before the info file recorded it.
        let mut f = OpenOptions::new()
            .append(true)
            .open(u.data_path(&id))
            .unwrap();
        f.write_all(b"zz").unwrap();
        drop(f);
        let reopened = Uploads::open(dir.path().join("uploads"), 100, 10).unwrap();
        assert_eq!(reopened.info(&id).unwrap().offset, 4);
        assert_eq!(reopened.append(&id, 4, None, b"efgh", 0).unwrap().offset, 8);
        assert_eq!(fs::read(reopened.data_path(&id)).unwrap(), b"abcdefgh");
        // A data file shorter than the recorded offset (lost after a crash) lowers it.
        fs::write(reopened.data_path(&id), b"ab").unwrap();
        assert_eq!(reopened.info(&id).unwrap().offset, 2);
    }

    #[test]
    fn an_upload_untouched_too_long_expires_and_is_reaped_with_leftovers() {
        const H: i64 = 3_600_000;
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 100, 10)
            .unwrap()
            .with_expiry(Some(std::time::Duration::from_secs(2 * 3600)));
        let idle = u.create(8, &meta("j1", "bagit.txt"), OWNER, 0).unwrap();
        let busy = u.create(8, &meta("j1", "data/a.png"), OWNER, 0).unwrap();
        let done = u.create(2, &meta("j1", "data/b.png"), OWNER, 0).unwrap();
        u.append(&done.id, 0, None, b"ab", 0).unwrap();
        assert_eq!(u.expires_at(&idle), Some(2 * H));
        // A chunk an hour in keeps `busy` alive two hours from then.
        let after = u.append(&busy.id, 0, None, b"abcd", H).unwrap();
        assert_eq!(u.expires_at(&after), Some(3 * H));
        assert!(u.reap(2 * H - 1).unwrap().is_empty());
        assert!(matches!(
            u.live_info(&idle.id, 2 * H),
            Err(TusError::Expired(_))
        ));
        assert!(matches!(
            u.append(&idle.id, 0, None, b"abcd", 2 * H),
            Err(TusError::Expired(_))
        ));
        assert_eq!(u.live_info(&busy.id, 2 * H).unwrap().offset, 4);
        let mut reaped = u.reap(2 * H).unwrap();
        reaped.sort();
        let mut want = vec![idle.id.clone(), done.id.clone()];
        want.sort();
        assert_eq!(reaped, want, "complete or not, untouched uploads go");
        assert!(matches!(u.info(&idle.id), Err(TusError::NotFound(_))));
        assert!(!u.data_path(&idle.id).exists());
        assert_eq!(u.reap(3 * H - 1).unwrap(), Vec::<String>::new());
        // Leftovers are judged by their age: these are brand new, then far in the past.
        let orphan = uuid::Uuid::now_v7().simple().to_string();
        fs::write(u.data_path(&orphan), b"x").unwrap();
        fs::write(dir.path().join("uploads").join("x.json.tmp"), b"{").unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        assert_eq!(u.reap(now).unwrap(), vec![busy.id.clone()]);
        assert!(u.data_path(&orphan).exists());
        assert!(u.reap(now + 3 * H).unwrap().is_empty());
        assert!(!u.data_path(&orphan).exists());
        assert!(!dir.path().join("uploads").join("x.json.tmp").exists());
        // Without expiry nothing ever goes.
        let never = Uploads::open(dir.path().join("other"), 100, 10).unwrap();
        let kept = never.create(1, &meta("j1", "bagit.txt"), OWNER, 0).unwrap();
        assert!(never.reap(i64::MAX).unwrap().is_empty());
        assert!(never.live_info(&kept.id, i64::MAX).is_ok());
    }

    #[test]
    fn an_info_file_from_before_expiry_counts_from_its_last_write() {
        let dir = tempfile::tempdir().unwrap();
        let u = Uploads::open(dir.path().join("uploads"), 100, 10)
            .unwrap()
            .with_expiry(Some(std::time::Duration::from_secs(3600)));
        let id = u.create(8, &meta("j1", "bagit.txt"), OWNER, 0).unwrap().id;
        // As written before `touched_at` existed, created long ago.
        let path = dir.path().join("uploads").join(format!("{id}.json"));
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("touched_at");
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let info = u.live_info(&id, now).unwrap();
        assert!(
            info.last_touched() > now - 60_000,
            "the data file was written just now"
        );
        assert!(u.reap(now).unwrap().is_empty());
    }
}
