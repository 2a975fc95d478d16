//! The MQTT loop: feeds broker traffic and timers to the sync state machines in
//! [`crate::sync`] and carries out what they decide. Circulation never waits on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rong_mqtt::{Credentials, MaxPacket};
use rong_protocol::api::Push;
use rong_protocol::delta::{CatchupRequest, Downlink, DownlinkBody};
use rong_protocol::envelope::{Freshness, Signer as EnvelopeSigner};
use rong_protocol::event::{Ack, EventBatch};
use rong_protocol::status::{Command, CommandKind, CommandReply, DeviceState, DeviceStatus};
use rong_protocol::topic::{device_filters, Topic};
use rong_protocol::{decode, encode, BranchId, DecodeError, MAX_PAYLOAD};
use rumqttc::{
    AsyncClient, ConnectionError, Event, Incoming, LastWill, MqttOptions, Outgoing, QoS,
};
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::config::Config;
use crate::snapshot::{self, SnapshotError};
use crate::status::{Link, Status};
use crate::store::{SharedStore, StoreError};
use crate::sync::{AckOutcome, Catchup, DeltaAction, Outbox, OutboxConfig};

/// The largest packet accepted from the broker. Larger than [`MAX_PAYLOAD`] so that an
/// oversized message is refused and counted by the codec instead of killing the connection.
const MAX_INCOMING_PACKET: usize = 4 * MAX_PAYLOAD;
/// Timer resolution for ack timeouts and catch-up retries.
const TICK: Duration = Duration::from_millis(500);
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A snapshot download that receives nothing for this long is abandoned (and asked for
/// again), so a stalled connection cannot hold up reference data for ever.
const SNAPSHOT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How often acked events past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How far back central's message may be dated behind its newest one.
const REPLAY_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Central's nonces remembered within the window.
const MAX_NONCES: usize = 4096;

/// What the network task reports.
enum Net {
    Event(Box<Event>),
    Down(String),
}

/// What the sync loop is handed.
#[derive(Debug)]
pub struct SyncParts {
    /// The whole config: the broker, sync tuning, central's URL, the commands allowed,
    /// and the file to compare with on `reload_config`.
    pub config: Config,
    /// The outbox, acks, reference data and snapshots all live in the store.
    pub store: SharedStore,
    /// The device status for the heartbeat and the will.
    pub status: Arc<Status>,
    /// Where the loop reports the broker connection and refused payloads.
    pub link: Arc<Link>,
    /// For `show_message` commands.
    pub pushes: broadcast::Sender<Push>,
    /// Woken after an event is written: send it.
    pub new_event: Arc<Notify>,
    /// Woken by the local API's `sync_now`.
    pub sync_now: Arc<Notify>,
    /// Signs the board's requests to central (snapshots) and every message it publishes.
    pub signer: Arc<rong_identity::Signer>,
    /// Central's key, pinned at enrolment: every message from central must be signed by it.
    pub central_key: rong_identity::PublicKey,
    /// Central's CA and the board's certificate: HTTPS and `mqtts://` need them.
    pub tls: Option<Arc<crate::tls::BoardTls>>,
}

/// The MQTT options: client id = device id, clean session, a retained will that says
/// `offline`, sealed by `signer` (central skips the replay check on status topics, since the
/// broker may deliver the will long after it was sealed).
pub fn options(
    config: &Config,
    offline: &DeviceStatus,
    signer: &rong_identity::Signer,
) -> Result<MqttOptions, crate::config::ConfigError> {
    let will_topic = Topic::Status(config.branch.clone(), config.device.clone()).to_topic_string();
    let will = signer.seal(&will_topic, &encode(offline));
    let mut opts = rong_mqtt::options(
        &config.mqtt.broker()?,
        config.device.as_str(),
        Duration::from_secs(config.mqtt.keep_alive_secs.max(5)),
        Credentials::from_config(
            config.mqtt.username.as_deref(),
            config.mqtt.password.as_ref(),
        ),
        MaxPacket {
            incoming: MAX_INCOMING_PACKET,
            outgoing: MAX_PAYLOAD + 4096,
        },
    );
    opts.set_clean_session(true)
        .set_request_channel_capacity(256)
        .set_last_will(LastWill::new(will_topic, will, QoS::AtLeastOnce, true));
    Ok(opts)
}

/// Runs the sync loop until `shutdown` turns true; then publishes the offline status.
pub async fn run(parts: SyncParts, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut opts = options(
        &parts.config,
        &parts.status.device(DeviceState::Offline),
        &parts.signer,
    )?;
    if parts.config.mqtt.broker()?.is_tls() {
        let tls = anyhow::Context::context(
            parts.tls.as_ref(),
            "mqtt.url is mqtts://, and this board has no certificate from central (enrolled before central had TLS): enrol it again",
        )?;
        rong_mqtt::use_tls(&mut opts, tls.mqtt_config()?);
    }
    let (status, link) = (parts.status.clone(), parts.link.clone());
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    // Unbounded on purpose: a bounded channel would stop the network task from polling
    // while the sync loop waits on `client.publish`, which needs that polling to drain:
    // a deadlock. It holds only what the broker delivers on this device's own topics and
    // its branch's deltas while the loop is busy (at most a snapshot load, itself bounded
    // by SNAPSHOT_READ_TIMEOUT and the download cap), each message at most MAX_INCOMING_PACKET.
    let (net_tx, net_rx) = mpsc::unbounded_channel();
    let network = tokio::spawn(async move {
        let mut backoff = BACKOFF_MIN;
        loop {
            match eventloop.poll().await {
                Ok(ev) => {
                    if matches!(ev, Event::Incoming(Incoming::ConnAck(_))) {
                        backoff = BACKOFF_MIN;
                    }
                    let done = matches!(ev, Event::Outgoing(Outgoing::Disconnect));
                    if net_tx.send(Net::Event(Box::new(ev))).is_err() || done {
                        return;
                    }
                }
                Err(e) => {
                    let msg = describe(&e);
                    if net_tx.send(Net::Down(msg)).is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    });
    let mut sync = SyncLoop::new(parts, client.clone())?;
    let result = sync.run(net_rx, &mut shutdown).await;
    link.set_online(false);
    let offline = sync.seal(
        &sync.status_topic,
        &encode(&status.device(DeviceState::Offline)),
    );
    if sync.connected {
        let _ = client.try_publish(sync.status_topic.clone(), QoS::AtLeastOnce, true, offline);
        let _ = client.try_disconnect();
        let abort = network.abort_handle();
        if tokio::time::timeout(Duration::from_secs(3), network)
            .await
            .is_err()
        {
            tracing::warn!("broker did not see the clean disconnect in time");
            abort.abort();
        }
    } else {
        network.abort();
    }
    result
}

fn describe(e: &ConnectionError) -> String {
    e.to_string()
}

struct SyncLoop {
    parts: SyncParts,
    client: AsyncClient,
    outbox: Outbox,
    catchup: Catchup,
    connected: bool,
    snapshot_busy: bool,
    started: Instant,
    log: uuid::Uuid,
    /// The epoch central was last seen in.
    epoch: Option<uuid::Uuid>,
    status_topic: String,
    events_topic: String,
    catchup_topic: String,
    reply_topic: String,
    http: reqwest::Client,
    snap_tx: mpsc::Sender<Result<u64, SnapshotError>>,
    /// Refuses central's messages seen before (per session; commands are also checked
    /// against the last one carried out, which is kept in the store).
    fresh: Freshness,
}

impl SyncLoop {
    fn new(parts: SyncParts, client: AsyncClient) -> anyhow::Result<Self> {
        let (log, acked, last, epoch) = {
            let store = parts.store.lock();
            let epoch = store.central_epoch()?;
            (
                store.log(),
                store.acked_through()?,
                store.last_seq()?,
                epoch,
            )
        };
        let c = &parts.config;
        let cfg = OutboxConfig::new(
            c.sync.batch_events,
            c.sync.window_events,
            c.sync.ack_timeout_secs,
        );
        let (b, d) = (c.branch.clone(), c.device.clone());
        let (snap_tx, _) = mpsc::channel(1);
        Ok(Self {
            outbox: Outbox::new(cfg, acked, last),
            catchup: Catchup::default(),
            connected: false,
            snapshot_busy: false,
            started: Instant::now(),
            log,
            epoch,
            status_topic: Topic::Status(b.clone(), d.clone()).to_topic_string(),
            events_topic: Topic::Events(b.clone(), d.clone()).to_topic_string(),
            catchup_topic: Topic::Catchup(b.clone(), d.clone()).to_topic_string(),
            reply_topic: Topic::CmdReply(b, d).to_topic_string(),
            http: snapshot::http_client(
                SNAPSHOT_READ_TIMEOUT,
                parts.tls.as_deref().map(crate::tls::BoardTls::ca_pem),
            )?,
            snap_tx,
            fresh: Freshness::new(REPLAY_WINDOW_MS, MAX_NONCES),
            parts,
            client,
        })
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// `body` sealed by this device for `topic`.
    fn seal(&self, topic: &str, body: &[u8]) -> Vec<u8> {
        self.parts.signer.seal(topic, body)
    }

    /// Opens a message from central: signed by central's pinned key, on a topic central
    /// owns, and not seen before. A refusal is counted and logged, and nothing in it is
    /// used.
    fn open<'a>(&mut self, topic: &str, payload: &'a [u8]) -> Option<&'a [u8]> {
        let key = self.parts.central_key;
        let opened = rong_identity::mqtt::open(payload, topic, |s| {
            matches!(s, EnvelopeSigner::Central).then_some((key, None))
        })
        .and_then(|m| self.fresh.admit(&m).map(|()| m));
        match opened {
            Ok(m) => Some(m.body),
            Err(e) => {
                self.parts.link.count_rejected();
                tracing::warn!(topic, reason = e.reason(), error = %e, "message refused: not signed by central");
                None
            }
        }
    }

    async fn run(
        &mut self,
        mut net: mpsc::UnboundedReceiver<Net>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(TICK);
        let heartbeat = Duration::from_secs(self.parts.config.sync.heartbeat_secs);
        let mut beat = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        let (snap_tx, mut snap_rx) = mpsc::channel(1);
        self.snap_tx = snap_tx;
        let (new_event, sync_now) = (self.parts.new_event.clone(), self.parts.sync_now.clone());
        loop {
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                msg = net.recv() => match msg {
                    Some(Net::Event(ev)) => self.on_net_event(*ev).await,
                    Some(Net::Down(why)) => self.on_down(&why),
                    None => anyhow::bail!("the MQTT network task stopped"),
                },
                _ = new_event.notified() => {
                    let store = self.parts.store.clone();
                    let last = blocking(move || store.lock().last_seq()).await;
                    if let Some(last) = last {
                        self.outbox.on_written(last);
                    }
                    self.pump().await;
                }
                _ = sync_now.notified() => self.sync_now().await,
                Some(res) = snap_rx.recv() => self.on_snapshot(res),
                _ = tick.tick() => {
                    let now = self.now();
                    if self.outbox.tick(now) {
                        tracing::info!(acked_through = self.outbox.acked_through(), "no ack progress: resending");
                    }
                    let mine = self.version().await;
                    if !self.snapshot_busy && self.connected && self.catchup.tick(mine, now) {
                        self.send_catchup(mine);
                    }
                    self.pump().await;
                }
                _ = beat.tick() => {
                    if self.connected {
                        self.publish_status(DeviceState::Online);
                    }
                }
                _ = prune.tick() => self.prune().await,
            }
        }
    }

    fn on_down(&mut self, why: &str) {
        if self.connected {
            tracing::warn!(error = %why, "broker connection lost");
        } else {
            tracing::debug!(error = %why, "broker unreachable; retrying");
        }
        self.connected = false;
        self.parts.link.set_online(false);
        self.outbox.on_disconnected();
    }

    async fn on_net_event(&mut self, ev: Event) {
        match ev {
            Event::Incoming(Incoming::ConnAck(_)) => self.on_connected().await,
            Event::Incoming(Incoming::Publish(p)) => {
                let Some(topic) = Topic::parse(&p.topic) else {
                    tracing::debug!(topic = %p.topic, "ignoring a foreign topic");
                    return;
                };
                let c = &self.parts.config;
                let mine = |b: &rong_protocol::BranchId, d: &rong_protocol::DeviceId| {
                    *b == c.branch && *d == c.device
                };
                let ours = match &topic {
                    Topic::Ack(b, d) | Topic::DeviceDeltas(b, d) | Topic::Cmd(b, d) => mine(b, d),
                    Topic::BranchDeltas(b) => *b == c.branch,
                    _ => false,
                };
                if !ours {
                    tracing::debug!(topic = ?topic, "ignoring a topic not for us");
                    return;
                }
                let Some(body) = self.open(&p.topic, &p.payload) else {
                    return;
                };
                match topic {
                    Topic::Ack(..) => self.on_ack(body).await,
                    Topic::Cmd(..) => self.on_command(body).await,
                    _ => self.on_downlink(body).await,
                }
            }
            _ => {}
        }
    }

    async fn on_connected(&mut self) {
        tracing::info!(device = %self.parts.config.device, "connected to the broker");
        self.connected = true;
        self.parts.link.set_online(true);
        let c = &self.parts.config;
        let filters = device_filters(&c.branch, &c.device)
            .into_iter()
            .map(|f| rumqttc::SubscribeFilter::new(f, QoS::AtLeastOnce));
        if let Err(e) = self.client.try_subscribe_many(filters) {
            tracing::warn!(error = %e, "could not subscribe");
        }
        self.publish_status(DeviceState::Online);
        let now = self.now();
        self.outbox.on_connected(now);
        if !self.snapshot_busy {
            self.catchup.on_connected(now);
            let mine = self.version().await;
            self.send_catchup(mine);
        }
        self.pump().await;
    }

    async fn version(&self) -> u64 {
        let store = self.parts.store.clone();
        blocking(move || store.lock().version()).await.unwrap_or(0)
    }

    fn publish_status(&self, state: DeviceState) {
        let payload = self.seal(
            &self.status_topic,
            &encode(&self.parts.status.device(state)),
        );
        if let Err(e) =
            self.client
                .try_publish(self.status_topic.clone(), QoS::AtLeastOnce, true, payload)
        {
            tracing::debug!(error = %e, "status not queued");
        }
    }

    fn send_catchup(&self, from_version: u64) {
        tracing::info!(from_version, "asking central to catch up");
        let payload = self.seal(
            &self.catchup_topic,
            &encode(&CatchupRequest::new(from_version)),
        );
        if let Err(e) =
            self.client
                .try_publish(self.catchup_topic.clone(), QoS::AtLeastOnce, false, payload)
        {
            tracing::debug!(error = %e, "catch-up request not queued");
        }
    }

    /// Publishes as many batches as the window allows.
    async fn pump(&mut self) {
        while let Some((from, to)) = self.outbox.next_batch() {
            let store = self.parts.store.clone();
            let Some(events) = blocking(move || store.lock().events_range(from, to)).await else {
                return;
            };
            if events.first().map(|e| e.seq) != Some(from) {
                tracing::error!(from, to, "outbox events missing from the store");
                return;
            }
            let last = events.last().map_or(from, |e| e.seq);
            let batch = EventBatch::new(self.parts.config.device.clone(), self.log, events);
            let payload = self.seal(&self.events_topic, &encode(&batch));
            match self.client.try_publish(
                self.events_topic.clone(),
                QoS::AtLeastOnce,
                false,
                payload,
            ) {
                Ok(()) => {
                    tracing::debug!(from, to = last, "event batch published");
                    self.outbox.on_sent(last, self.now());
                }
                Err(e) => {
                    tracing::debug!(error = %e, "client queue full; will retry");
                    return;
                }
            }
        }
    }

    fn reject(&self, what: &str, e: &DecodeError) {
        self.parts.link.count_rejected();
        tracing::warn!(topic = what, reason = e.kind(), error = %e, "payload refused");
    }

    async fn on_ack(&mut self, payload: &[u8]) {
        let ack: Ack = match decode(payload) {
            Ok(a) => a,
            Err(e) => return self.reject("ack", &e),
        };
        if ack.log != self.log {
            tracing::debug!(log = %ack.log, "ignoring an ack for another event log");
            return;
        }
        self.check_epoch(ack.epoch).await;
        match self.outbox.on_ack(ack.acked_through, self.now()) {
            AckOutcome::Advanced(n) => {
                let store = self.parts.store.clone();
                if blocking(move || store.lock().mark_acked(n)).await.is_some() {
                    tracing::debug!(acked_through = n, "ack applied");
                }
                self.pump().await;
            }
            AckOutcome::Rewound => {
                tracing::info!(
                    acked_through = ack.acked_through,
                    "central has a gap: resending"
                );
                self.pump().await;
            }
            AckOutcome::Stale => {}
            AckOutcome::Refused => {
                self.parts.link.count_rejected();
                tracing::warn!(
                    acked_through = ack.acked_through,
                    last_seq = self.outbox.last_seq(),
                    "ack beyond the last event refused"
                );
            }
        }
    }

    async fn on_downlink(&mut self, payload: &[u8]) {
        let msg: Downlink = match decode(payload) {
            Ok(m) => m,
            Err(e) => return self.reject("deltas", &e),
        };
        self.check_epoch(msg.epoch).await;
        match msg.body {
            DownlinkBody::Delta(delta) => {
                let (from, to) = (delta.from_version, delta.to_version);
                let store = self.parts.store.clone();
                let Some(res) = blocking(move || store.lock().apply_delta(&delta)).await else {
                    return;
                };
                match res.action {
                    DeltaAction::Apply => {
                        tracing::info!(
                            from,
                            to,
                            skipped_loans = res.skipped_loans,
                            "delta applied"
                        );
                        self.catchup.on_progress(res.version);
                    }
                    DeltaAction::Ignore => tracing::debug!(from, to, "delta already held"),
                    DeltaAction::Gap => {
                        tracing::info!(from, to, mine = res.version, "delta gap");
                        if !self.snapshot_busy && self.catchup.on_gap(to, self.now()) {
                            self.send_catchup(res.version);
                        }
                    }
                }
            }
            DownlinkBody::SnapshotRequired { version, path } => {
                if let Err(e) = snapshot::check_path(&path, &self.parts.config.branch) {
                    self.parts.link.count_rejected();
                    tracing::warn!(error = %e, "foreign snapshot location ignored");
                    return;
                }
                let mine = self.version().await;
                if version <= mine && mine > 0 {
                    tracing::debug!(version, mine, "snapshot not needed");
                    return;
                }
                self.catchup.on_gap(version, self.now());
                if self.snapshot_busy {
                    return;
                }
                self.snapshot_busy = true;
                tracing::info!(version, %path, "downloading a snapshot");
                let fetch = SnapshotFetch {
                    store: self.parts.store.clone(),
                    http: self.http.clone(),
                    signer: self.parts.signer.clone(),
                    central: self.parts.config.central.url.clone(),
                    max_bytes: self.parts.config.central.snapshot_max_bytes,
                    tmp: self.parts.config.data_dir.join("snapshot.download"),
                    branch: self.parts.config.branch.clone(),
                    central_key: self.parts.central_key,
                };
                let tx = self.snap_tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(fetch.run(&path).await).await;
                });
            }
        }
    }

    /// Central's epoch in an ack or a downlink. The first is remembered. A different one
    /// means central was restored from a backup and may lack events it once acked and hold
    /// older reference data: every kept event is re-sent (central skips those it has) and
    /// a fresh snapshot is fetched. A message with no epoch (an older central) changes
    /// nothing.
    async fn check_epoch(&mut self, seen: Option<uuid::Uuid>) {
        let Some(seen) = seen else { return };
        if self.epoch == Some(seen) {
            return;
        }
        let store = self.parts.store.clone();
        let Some(old) = self.epoch else {
            if blocking(move || store.lock().set_central_epoch(seen))
                .await
                .is_some()
            {
                tracing::info!(epoch = %seen, "central's epoch");
                self.epoch = Some(seen);
            }
            return;
        };
        let Some(acked) = blocking(move || store.lock().start_epoch(seen)).await else {
            return;
        };
        tracing::warn!(
            old = %old,
            new = %seen,
            resend_from = acked + 1,
            last_seq = self.outbox.last_seq(),
            "central's epoch changed (restored from a backup): re-sending every kept event and fetching a fresh snapshot"
        );
        self.epoch = Some(seen);
        let now = self.now();
        self.outbox.restart(acked, now);
        // The store's version is 0 now; asking from 0 brings the snapshot.
        self.catchup.reset();
        if self.connected && !self.snapshot_busy && self.catchup.on_gap(1, now) {
            self.send_catchup(0);
        }
        self.pump().await;
    }

    fn on_snapshot(&mut self, res: Result<u64, SnapshotError>) {
        self.snapshot_busy = false;
        match res {
            Ok(version) => {
                self.catchup.reset();
                self.catchup.on_progress(version);
                // Central answers a catch-up from version 0 with the snapshot again, so
                // asking would download it again, for ever, while central is empty.
                if self.connected && version > 0 {
                    self.send_catchup(version);
                }
            }
            Err(e) => {
                self.parts.link.count_rejected();
                tracing::warn!(error = %e, "snapshot not loaded; will ask again");
                // Let the catch-up timer ask again, after its retry delay: asking at once
                // would download a snapshot that keeps failing every tick.
                self.catchup.retry_later(self.now());
            }
        }
    }

    async fn sync_now(&mut self) {
        tracing::info!("sync now");
        let now = self.now();
        self.outbox.rewind(now);
        self.catchup.reset();
        if self.connected && !self.snapshot_busy {
            let mine = self.version().await;
            self.catchup.on_connected(now);
            self.send_catchup(mine);
        }
        self.pump().await;
    }

    async fn on_command(&mut self, payload: &[u8]) {
        let cmd: Command = match decode(payload) {
            Ok(c) => c,
            Err(e) => return self.reject("cmd", &e),
        };
        // Central's command ids are UUIDv7, ordered by time: one at or before the last
        // carried out is a replay (a reboot replayed at every start would never end).
        let (store, id) = (self.parts.store.clone(), cmd.id.clone());
        let Some(fresh) = blocking(move || store.lock().take_command(&id)).await else {
            return;
        };
        if !fresh {
            self.parts.link.count_rejected();
            tracing::warn!(id = %cmd.id, "command refused: not newer than the last one carried out");
            return;
        }
        tracing::info!(id = %cmd.id, command = ?cmd.kind, "command");
        let (ok, message) = match cmd.kind {
            CommandKind::SyncNow => {
                self.sync_now().await;
                (true, "sync started".to_owned())
            }
            CommandKind::ReloadConfig => reload(&self.parts.config),
            CommandKind::ShowMessage { text, seconds } => {
                let n = self
                    .parts
                    .pushes
                    .send(Push::Message { text, seconds })
                    .unwrap_or(0);
                (true, format!("shown to {n} subscriber(s)"))
            }
            CommandKind::Reboot => reboot(&self.parts.config),
        };
        let reply = self.seal(
            &self.reply_topic,
            &encode(&CommandReply::new(cmd.id, ok, message)),
        );
        if let Err(e) =
            self.client
                .try_publish(self.reply_topic.clone(), QoS::AtLeastOnce, false, reply)
        {
            tracing::warn!(error = %e, "command reply not queued");
        }
    }

    async fn prune(&mut self) {
        let days = i64::from(self.parts.config.sync.retain_acked_days);
        let before = now_ms() - days * 86_400_000;
        let store = self.parts.store.clone();
        if let Some(n) = blocking(move || store.lock().prune_acked(before)).await {
            if n > 0 {
                tracing::info!(pruned = n, "old acked events pruned");
            }
        }
    }
}

/// A snapshot download and load, run beside the loop.
struct SnapshotFetch {
    store: SharedStore,
    http: reqwest::Client,
    signer: Arc<rong_identity::Signer>,
    /// Central's base URL.
    central: String,
    /// The largest download accepted.
    max_bytes: u64,
    /// Where the download lands before it is loaded.
    tmp: PathBuf,
    /// The branch whose view of the snapshot is kept.
    branch: BranchId,
    /// Central's pinned key: the snapshot's trailer must be signed by it.
    central_key: rong_identity::PublicKey,
}

impl SnapshotFetch {
    /// Downloads the snapshot at `path` and loads it; returns the version now held.
    async fn run(self, path: &str) -> Result<u64, SnapshotError> {
        let Self {
            store,
            http,
            signer,
            central,
            max_bytes,
            tmp,
            branch,
            central_key,
        } = self;
        let res = async {
            let bytes = snapshot::download(&http, &signer, &central, path, &tmp, max_bytes).await?;
            tracing::info!(bytes, "snapshot downloaded");
            let file = tmp.clone();
            tokio::task::spawn_blocking(move || {
                snapshot::load(&mut store.lock(), &file, &branch, &central_key)
            })
            .await
            .map_err(|e| SnapshotError::Refused(format!("loader panicked: {e}")))?
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        res
    }
}

/// Runs a store call off the async threads; logs and swallows failures.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store failure in the sync loop");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "store task failed");
            None
        }
    }
}

/// Re-reads the config file and says what changed.
fn reload(current: &Config) -> (bool, String) {
    let Some(path) = &current.source else {
        return (false, "the agent was started without a config file".into());
    };
    match Config::load(Some(path)) {
        Ok(new) => {
            let changed = current.diff(&new);
            if changed.is_empty() {
                (true, "config unchanged".into())
            } else {
                (
                    true,
                    format!(
                        "changed: {}; restart the agent to apply",
                        changed.join(", ")
                    ),
                )
            }
        }
        Err(e) => (false, format!("config not reloaded: {e}")),
    }
}

/// Reboots only when the config allows it.
fn reboot(config: &Config) -> (bool, String) {
    if !config.commands.allow_reboot {
        return (false, "reboot not permitted by this agent's config".into());
    }
    match std::process::Command::new("systemctl")
        .arg("reboot")
        .spawn()
    {
        Ok(_) => (true, "rebooting".into()),
        Err(e) => (false, format!("reboot failed: {e}")),
    }
}
