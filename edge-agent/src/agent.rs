//! The agent's shared state, on its way to becoming separate services: circulation has
//! left for [`crate::circulation`], digitisation for [`crate::digitise::Digitise`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard};

use rong_protocol::api::{AgentStatus, ApiError, ErrorCode, Push, Reply, RequestOp};
use tokio::sync::{broadcast, Notify};

use crate::circulation::{self, Circulation};
use crate::clock::now_ms;
use crate::config::Config;
use crate::digitise::{self, Digitise};
use crate::hardware::Hardware;
use crate::store::{SharedStore, Store, StoreError};

/// Everything the agent's tasks share.
#[derive(Debug)]
pub struct Agent {
    /// The configuration it started with.
    pub config: Config,
    store: SharedStore,
    /// Circulation: sessions, loans, search and receipts.
    pub circulation: Arc<Circulation>,
    /// The readers.
    pub hardware: Arc<Hardware>,
    /// Pushes to API subscribers.
    pub pushes: broadcast::Sender<Push>,
    /// Woken when an event is written.
    pub new_event: Arc<Notify>,
    /// Woken by the API's `sync_now`.
    pub sync_now: Notify,
    /// Whether MQTT is connected.
    pub online: AtomicBool,
    /// Payloads refused since start.
    pub rejected: AtomicU64,
    /// Changes at every start.
    pub boot_id: String,
    /// When the agent started, ms since the epoch.
    pub started_at: i64,
    /// Digitisation: jobs, pages and their upload.
    pub digitise: Arc<Digitise>,
}

fn internal(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError::new(ErrorCode::Internal, "")
}

impl Agent {
    /// Builds the shared state around an open store.
    pub fn new(
        config: Config,
        store: Store,
        hardware: Hardware,
        pushes: broadcast::Sender<Push>,
    ) -> Self {
        let store = SharedStore::new(store);
        let hardware = Arc::new(hardware);
        let new_event = Arc::new(Notify::new());
        let circulation = Arc::new(Circulation::new(
            circulation::Settings::from_config(&config),
            store.clone(),
            hardware.clone(),
            new_event.clone(),
        ));
        let digitise = Arc::new(Digitise::new(
            digitise::Settings::from_config(&config),
            store.clone(),
            hardware.scanner(),
            pushes.clone(),
            circulation.clone(),
        ));
        Self {
            config,
            store,
            circulation,
            hardware,
            pushes,
            new_event,
            sync_now: Notify::new(),
            online: AtomicBool::new(false),
            rejected: AtomicU64::new(0),
            boot_id: uuid::Uuid::now_v7().to_string(),
            started_at: now_ms(),
            digitise,
        }
    }

    /// The store, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock()
    }

    /// Counts a refused payload.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Answers one request (all but `subscribe`, which the connection handles).
    pub fn handle(&self, op: RequestOp) -> Result<Reply, ApiError> {
        match op {
            RequestOp::Identify(who) => self.circulation.identify(&who),
            RequestOp::EndSession { session } => self.circulation.end_session(&session),
            RequestOp::Checkout { who, item } => self.circulation.checkout(&who, &item),
            RequestOp::Checkin { item } => self.circulation.checkin(&item),
            RequestOp::Renew { who, item } => self.circulation.renew(&who, &item),
            RequestOp::Loans(who) => self.circulation.loans(&who),
            RequestOp::Status => Ok(Reply::Status(self.status().map_err(internal)?)),
            RequestOp::SyncNow => {
                self.sync_now.notify_one();
                Ok(Reply::Done)
            }
            RequestOp::SimScan { code } => self.hardware.sim_scan(&code).map(|()| Reply::Done),
            RequestOp::SimTap { uid } => self.hardware.sim_tap(&uid).map(|()| Reply::Done),
            RequestOp::SimRemove => self.hardware.sim_remove().map(|()| Reply::Done),
            RequestOp::Subscribe => Ok(Reply::Done),
            RequestOp::Search { q, limit } => self.circulation.search(&q, limit),
            RequestOp::Signal { signal } => {
                self.hardware.signal(signal);
                Ok(Reply::Done)
            }
            RequestOp::PrintReceipt { session, items } => {
                self.circulation.print_receipt(&session, &items)
            }
            RequestOp::SimPrinter { state } => {
                self.hardware.sim_printer(state).map(|()| Reply::Done)
            }
            op @ (RequestOp::JobStart { .. }
            | RequestOp::JobList { .. }
            | RequestOp::JobGet { .. }
            | RequestOp::JobScan { .. }
            | RequestOp::PageRescan { .. }
            | RequestOp::PageDelete { .. }
            | RequestOp::PageMove { .. }
            | RequestOp::PageRotate { .. }
            | RequestOp::PageImage { .. }
            | RequestOp::JobFinish { .. }
            | RequestOp::JobDiscard { .. }
            | RequestOp::SimDocScanner { .. }) => self.digitise.handle(op),
        }
    }

    /// The sync state for the API.
    pub fn status(&self) -> Result<AgentStatus, StoreError> {
        let store = self.store();
        let last_seq = store.last_seq()?;
        let acked_through = store.acked_through()?;
        let oldest = store.oldest_unacked_at()?;
        Ok(AgentStatus {
            device: self.config.device.clone(),
            branch: self.config.branch.clone(),
            online: self.online.load(Ordering::Relaxed),
            outbox_depth: last_seq - acked_through.min(last_seq),
            oldest_unsynced_age_s: oldest
                .map(|at| (now_ms().saturating_sub(at).max(0) / 1000) as u64),
            last_seq,
            acked_through,
            catalogue_version: store.version()?,
            rejected_messages: self.rejected.load(Ordering::Relaxed),
            hardware: self.hardware.health(),
            digitise: self.digitise.summary(&store)?,
        })
    }
}
