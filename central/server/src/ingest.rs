//! The writer's ingest jobs: what devices send up (event batches, statuses, command
//! replies) and what staff send down (commands, blocks), each built here as a closure and
//! run on the store's one writer, which then queues acks and deltas for the MQTT
//! publisher.

use std::sync::{Arc, Mutex};

use rong_protocol::delta::Op;
use rong_protocol::event::{Ack, EventBatch};
use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::status::{Command, CommandKind, CommandReply, DeviceStatus};
use rong_protocol::topic::Topic;
use rong_protocol::SCHEMA_VERSION;
use tokio::sync::mpsc;

use crate::deltas::encode_chunks;
use crate::metrics::{Metrics, Reject};
use central_store::{Applied, RefCache, Registration, Store, StoreError, Writer};

/// A message for the MQTT publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// What the writer needs besides its store.
#[derive(Debug, Clone)]
pub struct IngestCtx {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// To the MQTT publisher.
    pub out: mpsc::UnboundedSender<Outbound>,
    /// Local offset in minutes.
    pub utc_offset_min: i32,
    /// The database's epoch, carried in every ack and delta.
    pub epoch: uuid::Uuid,
    /// Wakes the checker of PINs typed offline ([`crate::offline_pins`]).
    pub offline_pins: Arc<tokio::sync::Notify>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The ingest jobs, sent to the writer as closures. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    writer: Writer,
    state: Arc<IngestState>,
}

/// What every ingest job shares.
#[derive(Debug)]
struct IngestState {
    ctx: IngestCtx,
    /// Branches, categories, rules and closed days, reloaded when a change touches them.
    /// Only the writer thread locks it (every job runs there), so it never waits.
    cache: Mutex<RefCache>,
}

impl Ingest {
    /// Loads the reference data from `store`, then starts the writer on it.
    pub fn start(
        store: Store,
        ctx: IngestCtx,
    ) -> anyhow::Result<(Ingest, std::thread::JoinHandle<()>)> {
        let cache = store.ref_cache()?;
        let (writer, thread) = Writer::spawn(store)?;
        let state = Arc::new(IngestState {
            ctx,
            cache: Mutex::new(cache),
        });
        Ok((Ingest { writer, state }, thread))
    }

    /// The writer the jobs go through, for the other writes (dashboard, digitisation).
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Applies an event batch from `.../events`, already decoded and checked against its
    /// topic; acks it and publishes what changed.
    pub async fn events(&self, branch: BranchId, batch: EventBatch) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer.send(move |s| st.events(s, branch, batch)).await
    }

    /// Records a status from `.../status`.
    pub async fn status(&self, branch: BranchId, status: DeviceStatus) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .send(move |s| st.status(s, branch, status))
            .await
    }

    /// Records a command reply from `.../cmd-reply`.
    pub async fn reply(
        &self,
        branch: BranchId,
        device: DeviceId,
        reply: CommandReply,
    ) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .send(move |s| st.reply(s, branch, device, reply))
            .await
    }

    /// Records a command and sends it to the device; returns its correlation id.
    pub async fn command(&self, device: DeviceId, kind: CommandKind) -> Result<String, StoreError> {
        let st = self.state.clone();
        self.writer.run(move |s| st.command(s, device, kind)).await
    }

    /// Decides a quarantined batch: accepted, it is applied through the normal ingest (each
    /// event once, as if it had just arrived, but not acked: the device is not trusted to
    /// forget it); discarded, it stays recorded. `by` names who decided.
    pub async fn decide_quarantined(
        &self,
        id: i64,
        accept: bool,
        by: String,
    ) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| st.decide_quarantined(s, id, accept, &by))
            .await
    }

    /// Revokes a device: its requests are refused and its events quarantined from now on.
    pub async fn revoke(&self, device: DeviceId, by: String) -> Result<(), StoreError> {
        self.writer
            .run(move |s| s.revoke_device(&device, &by, now_ms()))
            .await
    }

    /// Adds (`create`) or changes a branch and publishes the change to the devices.
    pub async fn save_branch(
        &self,
        branch: central_store::network::BranchDetails,
        create: bool,
    ) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let applied = s.save_branch(&branch, create)?;
                st.publish_changes(s, &applied);
                Ok(())
            })
            .await
    }

    /// Sets up a fresh central (see [`central_store::Store::init_network`]) and publishes
    /// what it adds.
    pub async fn init_network(
        &self,
        admin: central_store::network::FirstAdmin,
        network: String,
        first: central_store::network::BranchDetails,
    ) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let now = chrono::Utc::now().timestamp_millis();
                let applied = s.init_network(&admin, &network, &first, now)?;
                st.publish_changes(s, &applied);
                Ok(())
            })
            .await
    }

    /// Runs `change` on the writer and publishes the reference-data ops it appends.
    pub async fn write_and_publish<F>(&self, change: F) -> Result<(), StoreError>
    where
        F: FnOnce(&mut Store) -> Result<central_store::Applied, StoreError> + Send + 'static,
    {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let applied = change(s)?;
                st.publish_changes(s, &applied);
                Ok(())
            })
            .await
    }

    /// Closes branches on `close` and opens one again on `open`, and publishes the change.
    pub async fn calendar(
        &self,
        close: Vec<rong_protocol::delta::ClosedDay>,
        open: Option<(BranchId, chrono::NaiveDate)>,
    ) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let mut applied = s.add_closed_days(&close)?;
                if let Some((branch, date)) = open {
                    let more = s.remove_closed_day(&branch, date)?;
                    if applied.ops.is_empty() {
                        applied = more;
                    } else {
                        applied.ops.extend(more.ops);
                    }
                }
                st.publish_changes(s, &applied);
                Ok(())
            })
            .await
    }

    /// Does a circulation desk act ([`central_store::desk`]) by the rules in the cache, and
    /// publishes the loans it changed to the devices.
    pub async fn desk(
        &self,
        at: central_store::desk::DeskAt,
        act: central_store::desk::DeskAct,
    ) -> Result<central_store::desk::DeskDone, StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let done = {
                    let cache = st.cache();
                    s.desk(&cache, &at, &act)?
                };
                st.publish_changes(s, &done.applied);
                Ok(done)
            })
            .await
    }

    /// Blocks (`Some(reason)`) or unblocks (`None`) a patron and publishes the change.
    pub async fn block(&self, card: String, reason: Option<String>) -> Result<(), StoreError> {
        let st = self.state.clone();
        self.writer
            .run(move |s| {
                let (_, applied) = s.set_block(&card, reason.as_deref())?;
                st.publish_changes(s, &applied);
                Ok(())
            })
            .await
    }
}

impl IngestState {
    fn send(&self, topic: Topic, payload: Vec<u8>) {
        let _ = self.ctx.out.send(Outbound {
            topic: topic.to_topic_string(),
            payload,
        });
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, RefCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish_changes(&self, store: &Store, applied: &Applied) {
        if applied.is_empty() {
            return;
        }
        if applied.ops.iter().any(|op| {
            matches!(
                op,
                Op::PutBranch(_)
                    | Op::PutCategory(_)
                    | Op::PutRule(_)
                    | Op::DelRule { .. }
                    | Op::PutClosedDay(_)
                    | Op::DelClosedDay { .. }
            )
        }) {
            match store.ref_cache() {
                Ok(c) => *self.cache() = c,
                Err(e) => tracing::error!(error = %e, "cannot reload reference data"),
            }
        }
        let mut n = 0u64;
        let branches: Vec<BranchId> = self.cache().branches.iter().map(|b| b.id.clone()).collect();
        for b in branches {
            for c in encode_chunks(applied.from_version, &applied.ops, &b, self.ctx.epoch) {
                self.send(Topic::BranchDeltas(b.clone()), c);
                n += 1;
            }
        }
        self.ctx.metrics.deltas(n);
        tracing::debug!(
            from = applied.from_version,
            to = applied.to_version(),
            "published delta"
        );
    }

    /// Whether `device` may send on `branch`'s topics (enrolled there, not revoked).
    ///
    /// Until the signed-message piece lands, the device's identity on MQTT is the topic's
    /// device id: this checks that id, not a signature.
    fn registration(
        &self,
        store: &mut Store,
        branch: &BranchId,
        device: &DeviceId,
    ) -> Option<Registration> {
        match store.check_device(branch, device) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, device = %device, "cannot check device registration");
                None
            }
        }
    }

    fn admit(&self, store: &mut Store, branch: &BranchId, device: &DeviceId, what: &str) -> bool {
        match self.registration(store, branch, device) {
            Some(r) if r.allowed() => true,
            Some(r) => {
                let why = match r {
                    Registration::UnknownBranch => Reject::UnknownBranch,
                    _ => Reject::WrongDevice,
                };
                self.ctx.metrics.reject(why);
                tracing::warn!(reason = why.as_str(), branch = %branch, device = %device, registration = ?r, what, "rejected message");
                false
            }
            None => false,
        }
    }

    /// Sets aside the events of a device that may not send them. They are never acked:
    /// an ack would let the device forget events central has not applied, and a board
    /// that is re-enrolled sends them again to be applied once.
    fn quarantine(
        &self,
        store: &mut Store,
        branch: &BranchId,
        batch: &EventBatch,
        r: &Registration,
    ) {
        match store.quarantine_batch(branch, batch, &r.reason(), now_ms()) {
            Ok(new) => {
                self.ctx.metrics.reject(Reject::Quarantined);
                if new {
                    tracing::warn!(branch = %branch, device = %batch.device, reason = %r.reason(), events = batch.events.len(), "events quarantined");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, device = %batch.device, "cannot quarantine events")
            }
        }
    }

    fn decide_quarantined(
        &self,
        store: &mut Store,
        id: i64,
        accept: bool,
        by: &str,
    ) -> Result<(), StoreError> {
        let Some((branch, batch)) = store.decide_quarantined(id, accept, by, now_ms())? else {
            return Ok(());
        };
        let out = {
            let cache = self.cache();
            store.apply_batch(&cache, &branch, &batch, now_ms(), self.ctx.utc_offset_min)?
        };
        tracing::info!(id, device = %batch.device, applied = out.applied, replayed = out.replayed, gap = out.gap, by, "quarantined events accepted");
        self.publish_changes(store, &out.changes);
        Ok(())
    }

    fn events(&self, store: &mut Store, branch: BranchId, batch: EventBatch) {
        match self.registration(store, &branch, &batch.device) {
            Some(Registration::Known) => {}
            // Nothing to review: no branch to apply them in.
            Some(Registration::UnknownBranch) => {
                self.admit(store, &branch, &batch.device, "events");
                return;
            }
            Some(r) => return self.quarantine(store, &branch, &batch, &r),
            None => return,
        }
        let result = {
            let cache = self.cache();
            store.apply_batch(&cache, &branch, &batch, now_ms(), self.ctx.utc_offset_min)
        };
        match result {
            Ok(out) => {
                self.ctx.metrics.batch(out.applied, out.replayed);
                if out.offline_pins > 0 {
                    self.ctx.offline_pins.notify_one();
                }
                tracing::debug!(device = %batch.device, acked_through = out.acked_through, applied = out.applied, replayed = out.replayed, gap = out.gap, "batch");
                if out.gap {
                    tracing::info!(device = %batch.device, acked_through = out.acked_through, first = batch.events.first().map(|e| e.seq), "gap in events; acking below it");
                }
                self.send(
                    Topic::Ack(branch, batch.device.clone()),
                    rong_protocol::encode(
                        &Ack::new(batch.log, out.acked_through).in_epoch(self.ctx.epoch),
                    ),
                );
                self.publish_changes(store, &out.changes);
            }
            Err(e) => {
                tracing::error!(error = %e, device = %batch.device, "could not apply batch")
            }
        }
    }

    fn status(&self, store: &mut Store, branch: BranchId, status: DeviceStatus) {
        if !self.admit(store, &branch, &status.device, "status") {
            return;
        }
        if let Err(e) = store.record_status(&status, now_ms()) {
            tracing::error!(error = %e, device = %status.device, "could not record status");
        }
    }

    fn reply(&self, store: &mut Store, branch: BranchId, device: DeviceId, reply: CommandReply) {
        if !self.admit(store, &branch, &device, "cmd-reply") {
            return;
        }
        if let Err(e) = store.record_reply(&device, &reply, now_ms()) {
            tracing::error!(error = %e, device = %device, "could not record command reply");
        }
    }

    fn command(
        &self,
        store: &mut Store,
        device: DeviceId,
        kind: CommandKind,
    ) -> Result<String, StoreError> {
        let cmd = Command {
            v: SCHEMA_VERSION,
            id: uuid::Uuid::now_v7().to_string(),
            kind,
        };
        let json = serde_json::to_string(&cmd.kind).unwrap_or_default();
        let branch = store.record_command(&device, &cmd.id, &json, now_ms())?;
        self.send(Topic::Cmd(branch, device), rong_protocol::encode(&cmd));
        Ok(cmd.id)
    }
}

impl central_web::Commands for Ingest {
    fn send(
        &self,
        device: DeviceId,
        kind: CommandKind,
    ) -> central_web::BoxFuture<'_, Result<String, StoreError>> {
        Box::pin(self.command(device, kind))
    }
}
