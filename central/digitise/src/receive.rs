//! A station's bag submission, from its tus uploads to a verdict: assemble the bag in a
//! temporary directory, check it ([`super::bag::check`]), then keep it under
//! `{data_dir}/documents/{document}/bag/` or set it aside under
//! `{data_dir}/quarantine/{job}-{n}/` with a `REFUSED.txt`. The consumed uploads are
//! deleted once the verdict is recorded.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rong_protocol::digitise::{bag_info, upload_meta, BagSubmission, BagVerdict};

use super::bag::{self, BagProblem, CheckedBag};
use super::tus::{check_bag_path, check_id, TusError, Uploads};
use central_store::documents::{BagRefusal, NewDocument};

/// Why a submission could not be judged at all (as opposed to a refused bag).
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The submission itself is malformed.
    #[error("{0}")]
    BadSubmission(String),
    /// A named upload is unknown, unfinished or belongs to another file; the station should
    /// check its uploads with `HEAD` and try again.
    #[error("{0}")]
    Uploads(String),
    /// The disk failed.
    #[error("bag storage: {0}")]
    Io(#[from] std::io::Error),
    /// Upload storage failed.
    #[error(transparent)]
    Tus(TusError),
    /// A named upload belongs to another device.
    #[error("{0}")]
    NotYours(String),
}

/// What a submission needs to record, handed to the caller's writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Keep: record this document.
    Kept(NewDocument),
    /// Refused: record this refusal.
    Refused(BagRefusal),
}

/// The digitisation intake: the tus uploads and the bag directories under the data dir.
#[derive(Debug)]
pub struct Intake {
    data_dir: PathBuf,
    /// The tus uploads.
    pub uploads: Uploads,
    /// One submission at a time: bags are assembled and judged in turn.
    pub(crate) lock: tokio::sync::Mutex<()>,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Intake {
    /// Opens the directories under `data_dir`, clearing half-assembled bags left by a crash
    /// (they hold only hard links to uploads that still exist).
    pub fn open(data_dir: &Path, max_file: u64, max_chunk: usize) -> Result<Intake, ReceiveError> {
        let uploads = Uploads::open(data_dir.join("uploads"), max_file, max_chunk)
            .map_err(ReceiveError::Tus)?;
        let incoming = data_dir.join("incoming");
        if incoming.exists() {
            fs::remove_dir_all(&incoming)?;
        }
        for d in ["incoming", "documents", "quarantine"] {
            fs::create_dir_all(data_dir.join(d))?;
        }
        Ok(Intake {
            data_dir: data_dir.to_owned(),
            uploads,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Expires uploads untouched for `after` (`None`: never); see [`run_reaper`].
    pub fn with_upload_expiry(mut self, after: Option<Duration>) -> Intake {
        self.uploads = self.uploads.with_expiry(after);
        self
    }

    /// Sets each device's upload quota and the disk's free-space reserve.
    pub fn with_room(mut self, room: crate::quota::Room) -> Intake {
        self.uploads = self.uploads.with_room(room);
        self
    }

    /// Central's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where a document's bag is kept.
    pub fn bag_dir(&self, document: &str) -> PathBuf {
        self.data_dir.join("documents").join(document).join("bag")
    }

    /// Checks a submission's shape and its uploads: every file named once with a safe path,
    /// every upload present, complete and made for this job and path.
    pub fn check_submission(&self, sub: &BagSubmission) -> Result<(), ReceiveError> {
        sub.check_lengths()
            .map_err(|e| ReceiveError::BadSubmission(e.0))?;
        check_id("job", &sub.job).map_err(ReceiveError::BadSubmission)?;
        if sub.device.is_empty() || sub.branch.is_empty() {
            return Err(ReceiveError::BadSubmission(
                "the submission must name its device and branch".into(),
            ));
        }
        if sub.files.is_empty() {
            return Err(ReceiveError::BadSubmission(
                "the submission names no files".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for f in &sub.files {
            check_bag_path(&f.path).map_err(ReceiveError::BadSubmission)?;
            if !seen.insert(f.path.as_str()) {
                return Err(ReceiveError::BadSubmission(format!(
                    "{} is named twice",
                    f.path
                )));
            }
            let info = match self.uploads.info(&f.upload) {
                Ok(i) => i,
                Err(TusError::NotFound(_)) => {
                    return Err(ReceiveError::Uploads(format!(
                        "upload {} for {} does not exist",
                        f.upload, f.path
                    )))
                }
                Err(e) => return Err(ReceiveError::Tus(e)),
            };
            if info.meta(upload_meta::DEVICE) != Some(sub.device.as_str()) {
                return Err(ReceiveError::NotYours(format!(
                    "upload {} for {} belongs to another device",
                    f.upload, f.path
                )));
            }
            if !info.is_complete() {
                return Err(ReceiveError::Uploads(format!(
                    "upload {} for {} is not complete ({} of {} bytes)",
                    f.upload, f.path, info.offset, info.length
                )));
            }
            if info.meta(upload_meta::JOB) != Some(sub.job.as_str())
                || info.meta(upload_meta::PATH) != Some(f.path.as_str())
            {
                return Err(ReceiveError::Uploads(format!(
                    "upload {} was made for {:?} of job {:?}, not {} of job {}",
                    f.upload,
                    info.meta(upload_meta::PATH).unwrap_or(""),
                    info.meta(upload_meta::JOB).unwrap_or(""),
                    f.path,
                    sub.job
                )));
            }
        }
        Ok(())
    }

    /// Assembles and checks the bag (blocking file work); moves it to its place and answers
    /// what to record. Call [`Intake::check_submission`] first.
    pub fn judge(&self, sub: &BagSubmission, now_ms: i64) -> Result<Outcome, ReceiveError> {
        let work = self
            .data_dir
            .join("incoming")
            .join(uuid::Uuid::now_v7().simple().to_string());
        fs::create_dir_all(&work)?;
        for f in &sub.files {
            let to = work.join(&f.path);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::hard_link(self.uploads.data_path(&f.upload), &to)?;
        }
        match bag::check(&work) {
            Ok(checked) => self.keep(sub, &work, &checked, now_ms),
            Err(problem) => self.refuse(sub, &work, &problem, now_ms),
        }
    }

    fn keep(
        &self,
        sub: &BagSubmission,
        work: &Path,
        checked: &CheckedBag,
        now_ms: i64,
    ) -> Result<Outcome, ReceiveError> {
        let document = uuid::Uuid::now_v7().simple().to_string();
        let home = self.data_dir.join("documents").join(&document);
        fs::create_dir_all(&home)?;
        fs::rename(work, home.join("bag"))?;
        sync_dir(&home)?;
        sync_dir(&self.data_dir.join("documents"))?;
        let info = &checked.info;
        let dc = |k: &str| info.get(k).map(str::to_owned);
        let pages = info
            .get(bag_info::PAGES)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                checked
                    .payload
                    .iter()
                    .filter(|p| p.starts_with("data/master/"))
                    .count() as u32
            });
        tracing::info!(job = %sub.job, device = %sub.device, document = %document, files = checked.files, bytes = checked.bytes, "bag kept");
        Ok(Outcome::Kept(NewDocument {
            document,
            job: sub.job.clone(),
            device: sub.device.clone(),
            branch: dc(bag_info::BRANCH).unwrap_or_else(|| sub.branch.clone()),
            record: dc(bag_info::RECORD),
            title: dc(bag_info::DC_TITLE).unwrap_or_else(|| sub.job.clone()),
            creator: dc(bag_info::DC_CREATOR),
            date: dc(bag_info::DC_DATE),
            subject: dc(bag_info::DC_SUBJECT),
            language: dc(bag_info::DC_LANGUAGE),
            rights: dc(bag_info::DC_RIGHTS),
            pages,
            bytes: checked.bytes,
            received_at: now_ms,
        }))
    }

    fn refuse(
        &self,
        sub: &BagSubmission,
        work: &Path,
        problem: &BagProblem,
        now_ms: i64,
    ) -> Result<Outcome, ReceiveError> {
        let quarantine = self.data_dir.join("quarantine");
        let mut n = 1u32;
        let (name, dir) = loop {
            let name = format!("{}-{n}", sub.job);
            let dir = quarantine.join(&name);
            if !dir.exists() {
                break (name, dir);
            }
            n += 1;
        };
        fs::rename(work, &dir)?;
        let note = format!(
            "This bag was refused and is never published.\n\
             Job: {}\nDevice: {}\nBranch: {}\nAt (ms since the epoch): {now_ms}\n\
             Reason: {}\nFile: {}\n",
            sub.job,
            sub.device,
            sub.branch,
            problem.reason,
            problem.file.as_deref().unwrap_or("-")
        );
        let mut f = fs::File::create(dir.join("REFUSED.txt"))?;
        std::io::Write::write_all(&mut f, note.as_bytes())?;
        f.sync_all()?;
        sync_dir(&dir)?;
        sync_dir(&quarantine)?;
        tracing::warn!(job = %sub.job, device = %sub.device, reason = %problem.reason, file = problem.file.as_deref(), quarantine = %dir.display(), "bag refused");
        Ok(Outcome::Refused(BagRefusal {
            job: sub.job.clone(),
            device: sub.device.clone(),
            at: now_ms,
            reason: problem.reason.clone(),
            file: problem.file.clone(),
            quarantine: format!("quarantine/{name}"),
        }))
    }

    /// Deletes the uploads a judged submission consumed; failures are logged, not fatal.
    pub fn forget_uploads(&self, sub: &BagSubmission) {
        for f in &sub.files {
            if let Err(e) = self.uploads.remove(&f.upload) {
                tracing::warn!(upload = %f.upload, error = %e, "cannot delete a consumed upload");
            }
        }
    }
}

/// The verdict a recorded outcome gives the station.
pub fn verdict(outcome: &Outcome, document: Option<String>) -> BagVerdict {
    match outcome {
        Outcome::Kept(d) => BagVerdict::Safe {
            document: document.unwrap_or_else(|| d.document.clone()),
        },
        Outcome::Refused(r) => BagVerdict::Refused {
            reason: r.reason.clone(),
            file: r.file.clone(),
        },
    }
}

/// How often the reaper looks for expired uploads: a quarter of the expiry, at most an
/// hour, at least a second.
pub fn reap_every(expire: Duration) -> Duration {
    (expire / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Deletes expired uploads at start and then every [`reap_every`] until `stop`. Each pass
/// holds the intake's lock, so no bag is being assembled from an upload it deletes.
pub async fn run_reaper(intake: Arc<Intake>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(expire) = intake
        .uploads
        .expire_ms()
        .map(|ms| Duration::from_millis(ms as u64))
    else {
        return;
    };
    loop {
        {
            let _one_at_a_time = intake.lock.lock().await;
            let i = intake.clone();
            let now = chrono::Utc::now().timestamp_millis();
            match tokio::task::spawn_blocking(move || i.uploads.reap(now)).await {
                Ok(Ok(reaped)) if !reaped.is_empty() => {
                    tracing::info!(uploads = reaped.len(), "expired uploads deleted");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "expired uploads not deleted"),
                Err(e) => tracing::error!(error = %e, "upload reaper failed"),
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(reap_every(expire)) => {}
        }
    }
}

#[cfg(test)]
mod reaper_tests {
    use super::*;

    #[test]
    fn the_reaper_looks_a_quarter_of_the_expiry_apart_within_bounds() {
        assert_eq!(
            reap_every(Duration::from_secs(72 * 3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            reap_every(Duration::from_secs(3600)),
            Duration::from_secs(900)
        );
        assert_eq!(
            reap_every(Duration::from_millis(10)),
            Duration::from_secs(1)
        );
    }
}
