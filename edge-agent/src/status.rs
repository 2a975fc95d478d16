//! The status service: the agent's status for the local API, and the device status
//! published on `.../status`, from plain inputs: the sync counters in the store, the link
//! to central, disk and temperature, the devices' health and digitisation's summary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use rong_protocol::api::{AgentStatus, IdentityState};
use rong_protocol::status::{DeviceState, DeviceStatus};
use rong_protocol::{BranchId, DeviceId, SCHEMA_VERSION};

use crate::clock::now_ms;
use crate::config::{ClockSynced, Config};
use crate::digitise::Digitise;
use crate::hardware::Hardware;
use crate::host::{disk_free, temperature};
use crate::store::{SharedStore, Store, StoreError};

/// What the sync loop reports about its link to central: whether the broker is connected,
/// and how many payloads it refused since start.
#[derive(Debug, Default)]
pub struct Link {
    online: AtomicBool,
    rejected: AtomicU64,
    unenrolled: AtomicBool,
}

impl Link {
    /// Marks the broker connected or not.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
    }

    /// Whether the broker is connected.
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Counts a refused payload.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Payloads refused since start.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Marks the board as waiting for enrolment (no sync until it is enrolled).
    pub fn set_unenrolled(&self, unenrolled: bool) {
        self.unenrolled.store(unenrolled, Ordering::Relaxed);
    }

    /// The board's enrolment.
    pub fn identity(&self) -> IdentityState {
        if self.unenrolled.load(Ordering::Relaxed) {
            IdentityState::Unenrolled
        } else {
            IdentityState::Enrolled
        }
    }
}

/// The config sections a status names.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// This board.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// The disk whose free space is reported.
    pub data_dir: PathBuf,
    /// Whether the system clock is trusted.
    pub clock: ClockSynced,
}

impl Settings {
    /// The sections of the whole agent config that a status reads.
    pub fn from_config(config: &Config) -> Self {
        Self {
            device: config.device.clone(),
            branch: config.branch.clone(),
            data_dir: config.data_dir.clone(),
            clock: config.clock.synced,
        }
    }
}

/// The outbox as the store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outbox {
    last_seq: u64,
    acked_through: u64,
    oldest_unacked_at: Option<i64>,
}

impl Outbox {
    fn read(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            last_seq: store.last_seq()?,
            acked_through: store.acked_through()?,
            oldest_unacked_at: store.oldest_unacked_at()?,
        })
    }

    /// Events written and not yet acked.
    fn depth(self) -> u64 {
        self.last_seq - self.acked_through.min(self.last_seq)
    }

    /// How long the oldest unacked event has waited at `now`, in seconds.
    fn oldest_age_s(self, now: i64) -> Option<u64> {
        self.oldest_unacked_at
            .map(|at| (now.saturating_sub(at).max(0) / 1000) as u64)
    }
}

/// The status service; see the module documentation.
#[derive(Debug)]
pub struct Status {
    settings: Settings,
    /// Changes at every start.
    boot_id: String,
    /// When the agent started, ms since the epoch.
    started_at: i64,
    store: SharedStore,
    link: Arc<Link>,
    hardware: Arc<Hardware>,
    digitise: Arc<Digitise>,
}

impl Status {
    /// A status for an agent starting now.
    pub fn new(
        settings: Settings,
        store: SharedStore,
        link: Arc<Link>,
        hardware: Arc<Hardware>,
        digitise: Arc<Digitise>,
    ) -> Self {
        Self {
            settings,
            boot_id: uuid::Uuid::now_v7().to_string(),
            started_at: now_ms(),
            store,
            link,
            hardware,
            digitise,
        }
    }

    /// The agent's status, as the local API's `status` answers it.
    pub fn agent(&self) -> Result<AgentStatus, StoreError> {
        let store = self.store.lock();
        let outbox = Outbox::read(&store)?;
        Ok(AgentStatus {
            device: self.settings.device.clone(),
            branch: self.settings.branch.clone(),
            online: self.link.online(),
            outbox_depth: outbox.depth(),
            oldest_unsynced_age_s: outbox.oldest_age_s(now_ms()),
            last_seq: outbox.last_seq,
            acked_through: outbox.acked_through,
            catalogue_version: store.version()?,
            rejected_messages: self.link.rejected(),
            central_epoch: store.central_epoch()?,
            hardware: self.hardware.health(),
            digitise: self.digitise.summary(&store)?,
            identity: self.link.identity(),
        })
    }

    /// The device status in `state`. Store failures leave the sync fields at zero rather
    /// than stopping the heartbeat.
    pub fn device(&self, state: DeviceState) -> DeviceStatus {
        let sync = self.agent().ok();
        DeviceStatus {
            v: SCHEMA_VERSION,
            device: self.settings.device.clone(),
            branch: self.settings.branch.clone(),
            state,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            boot_id: self.boot_id.clone(),
            started_at: self.started_at,
            at: now_ms(),
            time_synced: self.settings.clock.is_synced(),
            outbox_depth: sync.as_ref().map_or(0, |s| s.outbox_depth),
            oldest_unsynced_age_s: sync.as_ref().and_then(|s| s.oldest_unsynced_age_s),
            catalogue_version: sync.as_ref().map_or(0, |s| s.catalogue_version),
            disk_free_bytes: disk_free(&self.settings.data_dir),
            temperature_c: temperature(),
            hardware: self.hardware.health(),
            digitise: sync.and_then(|s| s.digitise),
        }
    }
}

#[cfg(test)]
mod tests;
