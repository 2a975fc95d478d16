//! Sends a small BagIt bag straight to a running central the way a station does (one tus
//! upload per file, then the submission), for tests that need a published document
//! without scanning one first. The bag holds PNG masters only; central makes the rest.

use std::net::SocketAddr;

use rong_protocol::digitise::{bag_info, upload_meta, BagFile, BagSubmission, BagVerdict};

use crate::http::request_full;
use crate::tus::{encode_metadata, sha256_hex};

/// Who sends the bag and what it describes.
#[derive(Debug, Clone)]
pub struct BagSender<'a> {
    /// The job id (central keeps one document per job).
    pub job: &'a str,
    /// The station named as the sender.
    pub device: &'a str,
    /// Its branch.
    pub branch: &'a str,
    /// `DC-Title`.
    pub title: &'a str,
    /// The station's key (see `Central::enrol_device`): every request is signed.
    pub signer: &'a rong_identity::Signer,
}

/// The files of a bag with `masters` as its pages, by path inside the bag: the payload,
/// then the tag files (`bagit.txt`, `bag-info.txt`, `manifest-sha256.txt`).
pub fn bag_files(s: &BagSender<'_>, masters: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = masters
        .iter()
        .enumerate()
        .map(|(i, png)| (format!("data/master/{:04}.png", i + 1), png.clone()))
        .collect();
    let manifest: String = files
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", sha256_hex(bytes)))
        .collect();
    let payload: usize = files.iter().map(|(_, b)| b.len()).sum();
    let oxum = format!("{payload}.{}", masters.len());
    let pages = masters.len().to_string();
    let info: String = [
        (bag_info::BAGGING_DATE, "2026-11-26"),
        (bag_info::PAYLOAD_OXUM, &oxum),
        (bag_info::EXTERNAL_IDENTIFIER, s.job),
        (bag_info::JOB, s.job),
        (bag_info::DEVICE, s.device),
        (bag_info::BRANCH, s.branch),
        (bag_info::PAGES, &pages),
        (bag_info::DC_TITLE, s.title),
    ]
    .iter()
    .map(|(k, v)| format!("{k}: {v}\n"))
    .collect();
    files.push((
        "bagit.txt".into(),
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_vec(),
    ));
    files.push(("bag-info.txt".into(), info.into_bytes()));
    files.push(("manifest-sha256.txt".into(), manifest.into_bytes()));
    files
}

/// Uploads one file in one tus `PATCH` and returns the upload's id.
pub fn upload(http: SocketAddr, s: &BagSender<'_>, path: &str, bytes: &[u8]) -> String {
    let sha = sha256_hex(bytes);
    let meta = encode_metadata(&[
        (upload_meta::JOB, s.job),
        (upload_meta::PATH, path),
        (upload_meta::DEVICE, s.device),
        (upload_meta::BRANCH, s.branch),
        (upload_meta::SHA256, &sha),
    ]);
    let len = bytes.len().to_string();
    let auth = s.signer.authorization("POST", "/files/");
    let created = request_full(
        http,
        "POST",
        "/files/",
        &[
            ("Authorization", &auth),
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Length", &len),
            ("Upload-Metadata", &meta),
        ],
        None,
    )
    .expect("tus create");
    assert_eq!(created.status, 201, "create {path}: {}", created.text());
    let location = created.header("location").expect("Location").to_owned();
    let id = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let target = format!("/files/{id}");
    let auth = s.signer.authorization("PATCH", &target);
    let patched = request_full(
        http,
        "PATCH",
        &target,
        &[
            ("Authorization", &auth),
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Offset", "0"),
        ],
        Some(("application/offset+octet-stream", bytes)),
    )
    .expect("tus patch");
    assert_eq!(patched.status, 204, "patch {path}: {}", patched.text());
    assert_eq!(patched.header("upload-offset"), Some(len.as_str()));
    id
}

/// Uploads a bag of `masters` (PNG bytes, in reading order) and submits it; returns
/// central's verdict.
pub fn submit_bag(http: SocketAddr, s: &BagSender<'_>, masters: &[Vec<u8>]) -> BagVerdict {
    let files = bag_files(s, masters)
        .iter()
        .map(|(path, bytes)| BagFile {
            path: path.clone(),
            upload: upload(http, s, path, bytes),
        })
        .collect();
    let submission = BagSubmission {
        job: s.job.to_owned(),
        device: s.device.to_owned(),
        branch: s.branch.to_owned(),
        files,
    };
    let body = serde_json::to_vec(&submission).expect("submission JSON");
    let auth = s.signer.authorization("POST", "/api/v1/digitisation/bags");
    let r = request_full(
        http,
        "POST",
        "/api/v1/digitisation/bags",
        &[("Authorization", &auth)],
        Some(("application/json", &body)),
    )
    .expect("bag submission");
    assert_eq!(r.status, 200, "bag submission: {}", r.text());
    serde_json::from_slice(&r.body).expect("a verdict")
}
