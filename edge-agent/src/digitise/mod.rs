//! Digitisation at the station: jobs, pages and their checks, the bag, and the upload.
//!
//! - [`ops`]: the local API's job operations (staff only);
//! - [`pages`] and [`checks`]: a scanned page becomes a PNG master, an access JPEG and
//!   its flags;
//! - [`bag`]: a finished job becomes a BagIt bag;
//! - [`tus`] and [`upload`]: the bag goes to central over resumable uploads;
//! - [`cleanup`]: once central confirmed a job safe, its page files leave the station;
//! - [`recover`]: on start, files and rows are made to agree again after a crash.
//!
//! The journey and the contracts are in `docs/DIGITISATION.md`.

pub mod bag;
pub mod checks;
pub mod cleanup;
pub mod ops;
pub mod pages;
pub mod recover;
pub mod tus;
pub mod upload;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::Notify;

/// What the agent keeps about digitisation beyond the store.
#[derive(Debug, Default)]
pub struct DigitiseState {
    /// Woken when a job is queued.
    pub wake: Notify,
    /// The job being uploaded now.
    pub uploading: Mutex<Option<String>>,
}

impl DigitiseState {
    /// The job being uploaded now.
    pub fn uploading(&self) -> Option<String> {
        self.uploading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the job being uploaded.
    pub fn set_uploading(&self, job: Option<String>) {
        *self.uploading.lock().unwrap_or_else(|p| p.into_inner()) = job;
    }
}

/// The digitisation part of the status: on a station with a document scanner, or once
/// it has jobs.
pub fn status(
    agent: &crate::agent::Agent,
    store: &crate::store::Store,
) -> Result<Option<rong_protocol::digitise::DigitiseStatus>, crate::store::StoreError> {
    let c = store.digitise_counts()?;
    let any = c != crate::store::DigitiseCounts::default();
    if !any && agent.config.hardware.scanner.is_none() {
        return Ok(None);
    }
    Ok(Some(rong_protocol::digitise::DigitiseStatus {
        jobs_open: c.open,
        jobs_waiting: c.waiting,
        pages_waiting: c.pages_waiting,
        bytes_waiting: c.bytes_waiting,
        jobs_safe: c.safe,
        jobs_refused: c.refused,
        uploading: agent.digitise.uploading(),
    }))
}

/// `{data_dir}/digitise`.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("digitise")
}

/// `{data_dir}/digitise/jobs/{job}`.
pub fn job_dir(data_dir: &Path, job: &str) -> PathBuf {
    root(data_dir).join("jobs").join(job)
}

/// `{data_dir}/digitise/bags`.
pub fn bags_dir(data_dir: &Path) -> PathBuf {
    root(data_dir).join("bags")
}

/// The master of a page.
pub fn master_path(data_dir: &Path, job: &str, page: u32) -> PathBuf {
    job_dir(data_dir, job)
        .join("master")
        .join(format!("{page}.png"))
}

/// The access copy of a page.
pub fn access_path(data_dir: &Path, job: &str, page: u32) -> PathBuf {
    job_dir(data_dir, job)
        .join("access")
        .join(format!("{page}.jpg"))
}

#[cfg(test)]
mod tests;
