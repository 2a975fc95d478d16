//! The BagIt bag (RFC 8493, version 1.0) of a finished job, as `docs/DIGITISATION.md`
//! lays it out. Built in a temporary directory and renamed into place.

use std::io::Write;
use std::path::{Path, PathBuf};

use rong_protocol::digitise::bag_info::{
    BAGGING_DATE, BRANCH, DC_CREATOR, DC_DATE, DC_LANGUAGE, DC_RIGHTS, DC_SUBJECT, DC_TITLE,
    DEVICE, EXTERNAL_IDENTIFIER, JOB, PAGES, PAYLOAD_OXUM, RECORD,
};
use rong_protocol::digitise::DublinCore;

use super::pages::{sha256_hex, sync_dir};
use crate::store::{PageRow, UploadRow};

/// A bag could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    /// A page file no longer matches the hash taken when it was scanned.
    #[error("page file {0} is damaged: its SHA-256 changed since it was scanned")]
    Damaged(PathBuf),
    /// A file could not be read or written.
    #[error("bag file: {0}")]
    Io(#[from] std::io::Error),
}

/// What goes into a job's bag.
#[derive(Debug, Clone)]
pub struct BagInput<'a> {
    /// The job id.
    pub job: &'a str,
    /// This station.
    pub device: &'a str,
    /// Its branch.
    pub branch: &'a str,
    /// The catalogue record, if any.
    pub record: Option<&'a str>,
    /// The description.
    pub metadata: &'a DublinCore,
    /// Pages in reading order.
    pub pages: &'a [PageRow],
    /// `{data_dir}/digitise/jobs/{job}`.
    pub job_dir: &'a Path,
    /// `Bagging-Date`, `YYYY-MM-DD`.
    pub bagging_date: &'a str,
}

/// The bag's temporary directory while it is built.
pub fn tmp_dir(bags: &Path, job: &str) -> PathBuf {
    bags.join(format!("{job}.tmp"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of `bag-info.txt`.
pub fn bag_info(input: &BagInput<'_>, oxum: (u64, usize)) -> String {
    let mut lines = vec![
        (BAGGING_DATE, input.bagging_date.to_owned()),
        (PAYLOAD_OXUM, format!("{}.{}", oxum.0, oxum.1)),
        (EXTERNAL_IDENTIFIER, input.job.to_owned()),
        (JOB, input.job.to_owned()),
        (DEVICE, input.device.to_owned()),
        (BRANCH, input.branch.to_owned()),
    ];
    if let Some(r) = input.record {
        lines.push((RECORD, r.to_owned()));
    }
    lines.push((PAGES, input.pages.len().to_string()));
    let m = input.metadata;
    lines.push((DC_TITLE, m.title.clone()));
    for (k, v) in [
        (DC_CREATOR, &m.creator),
        (DC_DATE, &m.date),
        (DC_SUBJECT, &m.subject),
        (DC_LANGUAGE, &m.language),
        (DC_RIGHTS, &m.rights),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            lines.push((k, v.to_owned()));
        }
    }
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}: {}\n", one_line(&v)))
        .collect()
}

fn put(dir: &Path, name: &str, text: &str) -> std::io::Result<UploadRow> {
    let mut f = std::fs::File::create(dir.join(name))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(UploadRow {
        path: name.to_owned(),
        size: text.len() as u64,
        sha256: sha256_hex(text.as_bytes()),
        url: None,
        offset: 0,
    })
}

/// Places a page file in the bag (a hard link, or a copy across file systems) and checks
/// it still has the hash taken at scan time.
fn place(src: &Path, dst: &Path, sha: &str) -> Result<u64, BagError> {
    let bytes = std::fs::read(src)?;
    if sha256_hex(&bytes) != sha {
        return Err(BagError::Damaged(src.to_owned()));
    }
    if std::fs::hard_link(src, dst).is_err() {
        let mut f = std::fs::File::create(dst)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    Ok(bytes.len() as u64)
}

/// Builds the bag under `{bags}/{job}` and returns its files in upload order: the tag
/// files, then every access file, then the masters.
pub fn build(bags: &Path, input: &BagInput<'_>) -> Result<Vec<UploadRow>, BagError> {
    std::fs::create_dir_all(bags)?;
    let tmp = tmp_dir(bags, input.job);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(tmp.join("data/access"))?;
    std::fs::create_dir_all(tmp.join("data/master"))?;
    let mut access = Vec::new();
    let mut masters = Vec::new();
    let mut total = 0u64;
    for (i, p) in input.pages.iter().enumerate() {
        let n = i + 1;
        let page = p.info.page;
        for (kind, ext, sha, list) in [
            ("access", "jpg", &p.access_sha256, &mut access),
            ("master", "png", &p.master_sha256, &mut masters),
        ] {
            let path = format!("data/{kind}/{n:04}.{ext}");
            let src = input.job_dir.join(kind).join(format!("{page}.{ext}"));
            let size = place(&src, &tmp.join(&path), sha)?;
            total += size;
            list.push(UploadRow {
                path,
                size,
                sha256: sha.clone(),
                url: None,
                offset: 0,
            });
        }
    }
    let manifest: String = access
        .iter()
        .chain(&masters)
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    let mut tags = vec![
        put(
            &tmp,
            "bagit.txt",
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        )?,
        put(
            &tmp,
            "bag-info.txt",
            &bag_info(input, (total, access.len() + masters.len())),
        )?,
        put(&tmp, "manifest-sha256.txt", &manifest)?,
    ];
    let tagmanifest: String = tags
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    tags.push(put(&tmp, "tagmanifest-sha256.txt", &tagmanifest)?);
    for d in ["data/access", "data/master", "data", ""] {
        sync_dir(&tmp.join(d))?;
    }
    let dst = bags.join(input.job);
    if dst.exists() {
        std::fs::remove_dir_all(&dst)?;
    }
    std::fs::rename(&tmp, &dst)?;
    sync_dir(bags)?;
    tags.extend(access);
    tags.extend(masters);
    Ok(tags)
}

#[cfg(test)]
mod tests;
