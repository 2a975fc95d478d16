//! The ingest worker: one thread that owns the write connection and applies every change
//! (event batches, statuses, command records, blocks), then queues acks and deltas.

use std::sync::Arc;

use rong_protocol::delta::Op;
use rong_protocol::event::{Ack, EventBatch};
use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::status::{Command, CommandKind, CommandReply, DeviceStatus};
use rong_protocol::topic::Topic;
use rong_protocol::SCHEMA_VERSION;
use tokio::sync::{mpsc, oneshot};

use crate::deltas::encode_chunks;
use crate::metrics::{Metrics, Reject};
use central_store::{Applied, Registration, Store, StoreError};

/// A message for the MQTT publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Work for the writer.
#[derive(Debug)]
pub enum Job {
    /// An event batch from `.../events`, already decoded and checked against its topic.
    Events {
        /// Topic branch.
        branch: BranchId,
        /// The batch.
        batch: EventBatch,
    },
    /// A status from `.../status`.
    Status {
        /// Topic branch.
        branch: BranchId,
        /// The status.
        status: DeviceStatus,
    },
    /// A command reply from `.../cmd-reply`.
    Reply {
        /// Topic branch.
        branch: BranchId,
        /// Topic device.
        device: DeviceId,
        /// The reply.
        reply: CommandReply,
    },
    /// Record and send a command.
    Command {
        /// Device.
        device: DeviceId,
        /// What to do.
        kind: CommandKind,
        /// Gets the correlation id.
        done: oneshot::Sender<Result<String, StoreError>>,
    },
    /// Block (`Some`) or unblock (`None`) a patron.
    Block {
        /// Card.
        card: String,
        /// Reason.
        reason: Option<String>,
        /// Done.
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A dashboard write (users, sessions, alerts, acknowledgements).
    Admin(AdminWrite),
}

/// A write for the dashboard, run on the writer's connection (see `store::admin`).
pub struct AdminWrite(pub Box<dyn FnOnce(&mut Store) + Send>);

impl std::fmt::Debug for AdminWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminWrite")
    }
}

/// What the writer needs besides its store.
#[derive(Debug, Clone)]
pub struct WriterCtx {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// To the MQTT publisher.
    pub out: mpsc::UnboundedSender<Outbound>,
    /// Register unknown devices on first contact.
    pub auto_register: bool,
    /// Local offset in minutes.
    pub utc_offset_min: i32,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Starts the writer thread; it ends when every sender of the returned channel is gone.
pub fn spawn(
    store: Store,
    ctx: WriterCtx,
) -> std::io::Result<(mpsc::Sender<Job>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(1024);
    let handle = std::thread::Builder::new()
        .name("central-writer".into())
        .spawn(move || run(store, rx, ctx))?;
    Ok((tx, handle))
}

struct Writer {
    store: Store,
    ctx: WriterCtx,
    cache: central_store::RefCache,
}

fn run(store: Store, mut rx: mpsc::Receiver<Job>, ctx: WriterCtx) {
    let cache = match store.ref_cache() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot load reference data; writer stops");
            return;
        }
    };
    let mut w = Writer { store, ctx, cache };
    while let Some(job) = rx.blocking_recv() {
        w.handle(job);
    }
    tracing::debug!("writer stopped");
}

impl Writer {
    fn send(&self, topic: Topic, payload: Vec<u8>) {
        let _ = self.ctx.out.send(Outbound {
            topic: topic.to_topic_string(),
            payload,
        });
    }

    fn publish_changes(&mut self, applied: &Applied) {
        if applied.is_empty() {
            return;
        }
        if applied.ops.iter().any(|op| {
            matches!(
                op,
                Op::PutBranch(_)
                    | Op::PutCategory(_)
                    | Op::PutRule(_)
                    | Op::PutClosedDay(_)
                    | Op::DelClosedDay { .. }
            )
        }) {
            match self.store.ref_cache() {
                Ok(c) => self.cache = c,
                Err(e) => tracing::error!(error = %e, "cannot reload reference data"),
            }
        }
        let mut n = 0u64;
        let branches: Vec<BranchId> = self.cache.branches.iter().map(|b| b.id.clone()).collect();
        for b in branches {
            for c in encode_chunks(applied.from_version, &applied.ops, &b) {
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

    fn admit(&mut self, branch: &BranchId, device: &DeviceId, what: &str) -> bool {
        match self
            .store
            .check_device(branch, device, self.ctx.auto_register, now_ms())
        {
            Ok(r) if r.allowed() => true,
            Ok(r) => {
                let why = match r {
                    Registration::UnknownBranch => Reject::UnknownBranch,
                    _ => Reject::WrongDevice,
                };
                self.ctx.metrics.reject(why);
                tracing::warn!(reason = why.as_str(), branch = %branch, device = %device, registration = ?r, what, "rejected message");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, device = %device, "cannot check device registration");
                false
            }
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Admin(AdminWrite(f)) => f(&mut self.store),
            Job::Events { branch, batch } => {
                if !self.admit(&branch, &batch.device, "events") {
                    return;
                }
                let result = self.store.apply_batch(
                    &self.cache,
                    &branch,
                    &batch,
                    now_ms(),
                    self.ctx.utc_offset_min,
                );
                match result {
                    Ok(out) => {
                        self.ctx.metrics.batch(out.applied, out.replayed);
                        tracing::debug!(device = %batch.device, acked_through = out.acked_through, applied = out.applied, replayed = out.replayed, gap = out.gap, "batch");
                        if out.gap {
                            tracing::info!(device = %batch.device, acked_through = out.acked_through, first = batch.events.first().map(|e| e.seq), "gap in events; acking below it");
                        }
                        self.send(
                            Topic::Ack(branch, batch.device.clone()),
                            rong_protocol::encode(&Ack::new(batch.log, out.acked_through)),
                        );
                        self.publish_changes(&out.changes);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, device = %batch.device, "could not apply batch")
                    }
                }
            }
            Job::Status { branch, status } => {
                if !self.admit(&branch, &status.device, "status") {
                    return;
                }
                if let Err(e) = self.store.record_status(&status, now_ms()) {
                    tracing::error!(error = %e, device = %status.device, "could not record status");
                }
            }
            Job::Reply {
                branch,
                device,
                reply,
            } => {
                if !self.admit(&branch, &device, "cmd-reply") {
                    return;
                }
                if let Err(e) = self.store.record_reply(&device, &reply, now_ms()) {
                    tracing::error!(error = %e, device = %device, "could not record command reply");
                }
            }
            Job::Command { device, kind, done } => {
                let cmd = Command {
                    v: SCHEMA_VERSION,
                    id: uuid::Uuid::now_v7().to_string(),
                    kind,
                };
                let json = serde_json::to_string(&cmd.kind).unwrap_or_default();
                let result = self
                    .store
                    .record_command(&device, &cmd.id, &json, now_ms())
                    .map(|branch| {
                        self.send(
                            Topic::Cmd(branch, device.clone()),
                            rong_protocol::encode(&cmd),
                        );
                        cmd.id.clone()
                    });
                let _ = done.send(result);
            }
            Job::Block { card, reason, done } => {
                let result = self.store.set_block(&card, reason.as_deref());
                let result = result.map(|(_, applied)| self.publish_changes(&applied));
                let _ = done.send(result);
            }
        }
    }
}
