//! Digitisation at the station: jobs, pages and their checks, the bag, and the upload.
//! [`Digitise`] is the service; it owns the uploader's state and asks circulation only
//! whether a session is staff ([`StaffCheck`]).
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
use std::sync::{Arc, Mutex};

use rong_protocol::api::{ApiError, Push};
use rong_protocol::digitise::DigitiseStatus;
use rong_protocol::{BranchId, DeviceId};
use tokio::sync::{broadcast, Notify};

use crate::circulation::Circulation;
use crate::config::{Config, DigitiseConfig};
use crate::hardware::scanner::SharedScanner;
use crate::store::{DigitiseCounts, SharedStore, Store, StoreError};

/// The one thing digitisation asks of circulation: whether a session is a staff session.
pub trait StaffCheck: Send + Sync + std::fmt::Debug {
    /// Passes when `session` is a live session of a staff card; refuses with the API error
    /// to answer otherwise (`no_session`, `staff_only`, ...).
    fn require_staff(&self, session: &str) -> Result<(), ApiError>;
}

impl StaffCheck for Circulation {
    fn require_staff(&self, session: &str) -> Result<(), ApiError> {
        Circulation::require_staff(self, session)
    }
}

/// The config sections digitisation works by.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Jobs live under `{data_dir}/digitise`.
    pub data_dir: PathBuf,
    /// This board, named in every bag and upload.
    pub device: DeviceId,
    /// Its branch, likewise.
    pub branch: BranchId,
    /// Central's base URL, where bags go.
    pub central_url: String,
    /// Local offset from UTC in minutes, for the bagging date.
    pub utc_offset_minutes: i32,
    /// Whether this station has a document scanner configured.
    pub scanner_configured: bool,
    /// Disk, upload and clean-up tuning.
    pub digitise: DigitiseConfig,
}

impl Settings {
    /// The sections of the whole agent config that digitisation reads.
    pub fn from_config(config: &Config) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            device: config.device.clone(),
            branch: config.branch.clone(),
            central_url: config.central.url.clone(),
            utc_offset_minutes: config.circulation.utc_offset_minutes,
            scanner_configured: config.hardware.scanner.is_some(),
            digitise: config.digitise.clone(),
        }
    }
}

/// The digitisation service: jobs and pages, the uploader's state, recovery and clean-up.
#[derive(Debug)]
pub struct Digitise {
    settings: Settings,
    store: SharedStore,
    scanner: SharedScanner,
    /// Each scanned page is pushed to the API's subscribers.
    pushes: broadcast::Sender<Push>,
    staff: Arc<dyn StaffCheck>,
    /// Woken when a job is queued.
    wake: Notify,
    /// The job being uploaded now.
    uploading: Mutex<Option<String>>,
}

impl Digitise {
    /// The service over the shared store and the scanner; `staff` vets every job
    /// operation's session.
    pub fn new(
        settings: Settings,
        store: SharedStore,
        scanner: SharedScanner,
        pushes: broadcast::Sender<Push>,
        staff: Arc<dyn StaffCheck>,
    ) -> Self {
        Self {
            settings,
            store,
            scanner,
            pushes,
            staff,
            wake: Notify::new(),
            uploading: Mutex::new(None),
        }
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The job being uploaded now.
    pub fn uploading(&self) -> Option<String> {
        self.uploading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the job being uploaded.
    fn set_uploading(&self, job: Option<String>) {
        *self.uploading.lock().unwrap_or_else(|p| p.into_inner()) = job;
    }

    /// The digitisation part of the status, from the store the caller holds: on a station
    /// with a document scanner, or once it has jobs.
    pub fn summary(&self, store: &Store) -> Result<Option<DigitiseStatus>, StoreError> {
        let c = store.digitise_counts()?;
        if c == DigitiseCounts::default() && !self.settings.scanner_configured {
            return Ok(None);
        }
        Ok(Some(DigitiseStatus {
            jobs_open: c.open,
            jobs_waiting: c.waiting,
            pages_waiting: c.pages_waiting,
            bytes_waiting: c.bytes_waiting,
            jobs_safe: c.safe,
            jobs_refused: c.refused,
            uploading: self.uploading(),
        }))
    }
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
