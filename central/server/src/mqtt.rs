//! Central's MQTT client: subscribes to everything devices send up, hands messages to the
//! writer or the catch-up path, and publishes acks, deltas and commands.

use std::sync::Arc;
use std::time::Duration;

use rong_mqtt::{BrokerUrl, Credentials, MaxPacket};
use rong_protocol::delta::{CatchupRequest, Downlink, DownlinkBody};
use rong_protocol::event::EventBatch;
use rong_protocol::status::{CommandReply, DeviceStatus};
use rong_protocol::topic::{central_filters, Topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
use tokio::sync::{mpsc, oneshot, watch};

use crate::deltas::{encode_chunks, plan_catchup, CatchupPlan};
use crate::ingest::{Ingest, Outbound};
use crate::metrics::{Metrics, Reject};
use central_store::{self, Conn, Reads, StoreError};

/// The largest packet central's client accepts: above the protocol limit, so oversized
/// messages arrive and are refused and counted rather than breaking the connection.
const CLIENT_MAX_PACKET: usize = 2 * 1024 * 1024;

/// What the MQTT task needs.
#[derive(Debug, Clone)]
pub struct MqttCtx {
    /// The writer's ingest jobs.
    pub ingest: Ingest,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Read connections, for catch-up.
    pub reads: Reads,
    /// To the publisher.
    pub out: mpsc::UnboundedSender<Outbound>,
    /// Catch-up limit.
    pub max_catchup_ops: u64,
    /// The database's epoch, carried in every delta and snapshot notice.
    pub epoch: uuid::Uuid,
    /// Seals what central publishes and opens what devices send.
    pub envelopes: Arc<crate::signing::Envelopes>,
}

/// Client options for central: client id `central`, a clean session, 200 in flight.
pub fn options(broker: &BrokerUrl, credentials: Option<Credentials<'_>>) -> MqttOptions {
    let mut o = rong_mqtt::options(
        broker,
        "central",
        Duration::from_secs(30),
        credentials,
        MaxPacket::both(CLIENT_MAX_PACKET),
    );
    o.set_clean_session(true);
    o.set_inflight(200);
    o
}

/// Runs the client until `stop` turns true. `subscribed` fires after the first SubAck.
pub async fn run(
    opts: MqttOptions,
    ctx: MqttCtx,
    mut out_rx: mpsc::UnboundedReceiver<Outbound>,
    subscribed: oneshot::Sender<()>,
    mut stop: watch::Receiver<bool>,
) {
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let publisher = {
        let client = client.clone();
        let envelopes = ctx.envelopes.clone();
        tokio::spawn(async move {
            while let Some(o) = out_rx.recv().await {
                // Sealed as it leaves, so the signature's time is the sending time.
                let sealed = envelopes.seal(&o.topic, &o.payload);
                if let Err(e) = client
                    .publish(o.topic, QoS::AtLeastOnce, false, sealed)
                    .await
                {
                    tracing::warn!(error = %e, "cannot queue an MQTT publish");
                }
            }
        })
    };
    let mut subscribed = Some(subscribed);
    let mut backoff = Duration::from_millis(100);
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = stop.changed() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                tracing::info!("connected to the MQTT broker");
                let ctx = ctx.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = announce(&ctx) {
                        tracing::error!(error = %e, "cannot announce the change version");
                    }
                });
                let c = client.clone();
                tokio::spawn(async move {
                    let filters = central_filters()
                        .into_iter()
                        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce));
                    if let Err(e) = c.subscribe_many(filters).await {
                        tracing::warn!(error = %e, "cannot subscribe");
                    }
                });
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tx) = subscribed.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                dispatch(&ctx, &p.topic, &p.payload).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let _ = client.try_disconnect();
    publisher.abort();
}

/// Decodes a payload; a panic inside the protocol's checks (such as an arithmetic overflow
/// on hostile numbers) counts as an invalid message instead of ending the MQTT loop.
fn decode<T: serde::de::DeserializeOwned + rong_protocol::codec::Versioned>(
    payload: &[u8],
) -> Result<T, rong_protocol::DecodeError> {
    std::panic::catch_unwind(|| rong_protocol::decode::<T>(payload)).unwrap_or_else(|_| {
        Err(rong_protocol::DecodeError::Invalid(
            "the message broke a protocol check".into(),
        ))
    })
}

fn reject(ctx: &MqttCtx, why: Reject, topic: &str, detail: &dyn std::fmt::Display) {
    ctx.metrics.reject(why);
    tracing::warn!(reason = why.as_str(), topic, detail = %detail, "rejected message");
}

async fn dispatch(ctx: &MqttCtx, topic: &str, payload: &[u8]) {
    let Some(parsed) = Topic::parse(topic) else {
        tracing::debug!(topic, "ignoring message on a foreign topic");
        return;
    };
    if matches!(
        parsed,
        Topic::Ack(..) | Topic::Cmd(..) | Topic::DeviceDeltas(..) | Topic::BranchDeltas(_)
    ) {
        return; // central's own messages, coming back
    }
    if payload.is_empty() && matches!(parsed, Topic::Status(..)) {
        return; // a cleared retained status
    }
    let payload = match ctx.envelopes.open(topic, payload).await {
        Ok(body) => body,
        Err(why) => {
            ctx.metrics.refused_envelope(&why, topic);
            return reject(ctx, Reject::from_envelope(&why), topic, &why);
        }
    };
    let sent = match parsed {
        Topic::Events(branch, device) => match decode::<EventBatch>(payload) {
            Err(e) => return reject(ctx, Reject::from_decode(&e), topic, &e),
            Ok(batch) if batch.device != device => {
                return reject(
                    ctx,
                    Reject::WrongDevice,
                    topic,
                    &format!("batch from {}", batch.device),
                )
            }
            Ok(batch) => ctx.ingest.events(branch, batch).await,
        },
        Topic::Status(branch, device) => match decode::<DeviceStatus>(payload) {
            Err(e) => return reject(ctx, Reject::from_decode(&e), topic, &e),
            Ok(s) if s.device != device || s.branch != branch => {
                return reject(
                    ctx,
                    Reject::WrongDevice,
                    topic,
                    &format!("status of {}/{}", s.branch, s.device),
                )
            }
            Ok(status) => ctx.ingest.status(branch, status).await,
        },
        Topic::CmdReply(branch, device) => match decode::<CommandReply>(payload) {
            Err(e) => return reject(ctx, Reject::from_decode(&e), topic, &e),
            Ok(reply) => ctx.ingest.reply(branch, device, reply).await,
        },
        Topic::Catchup(branch, device) => {
            match decode::<CatchupRequest>(payload) {
                Err(e) => reject(ctx, Reject::from_decode(&e), topic, &e),
                Ok(req) => {
                    let ctx = ctx.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = catchup(&ctx, &branch, &device, req.from_version) {
                            tracing::error!(error = %e, device = %device, "cannot answer catch-up");
                        }
                    });
                }
            }
            return;
        }
        Topic::Ack(..) | Topic::Cmd(..) | Topic::DeviceDeltas(..) | Topic::BranchDeltas(_) => {
            return
        }
    };
    if sent.is_err() {
        tracing::warn!(topic, "writer is gone; dropping message");
    }
}

/// Sends an empty delta at central's current version to every branch. Deltas queued when
/// central stopped or lost its connection may never have left; a device still connected to
/// an external broker would not know it is behind until the next change. The empty delta
/// costs nothing to a device that is current and shows a gap to one that is behind, which
/// then catches up.
pub fn announce(ctx: &MqttCtx) -> Result<(), StoreError> {
    let (version, branches) = ctx.reads.blocking(|c| {
        Ok::<_, StoreError>((
            central_store::current_version(c)?,
            central_store::snapshot::branch_ids(c)?,
        ))
    })?;
    let payload = rong_protocol::encode(
        &Downlink::delta(rong_protocol::delta::Delta {
            from_version: version,
            to_version: version,
            ops: Vec::new(),
        })
        .in_epoch(ctx.epoch),
    );
    ctx.metrics.deltas(branches.len() as u64);
    for b in branches {
        let _ = ctx.out.send(Outbound {
            topic: Topic::BranchDeltas(b).to_topic_string(),
            payload: payload.clone(),
        });
    }
    tracing::debug!(version, "announced the change version");
    Ok(())
}

/// Answers a catch-up request on the device's deltas topic.
pub fn catchup(
    ctx: &MqttCtx,
    branch: &rong_protocol::BranchId,
    device: &rong_protocol::DeviceId,
    from_version: u64,
) -> Result<(), StoreError> {
    ctx.reads
        .blocking(|c| catchup_on(ctx, c, branch, device, from_version))
}

fn catchup_on(
    ctx: &MqttCtx,
    conn: &mut Conn<'_>,
    branch: &rong_protocol::BranchId,
    device: &rong_protocol::DeviceId,
    from_version: u64,
) -> Result<(), StoreError> {
    let current = central_store::current_version(conn)?;
    let topic = Topic::DeviceDeltas(branch.clone(), device.clone()).to_topic_string();
    let floor = central_store::snapshot_floor(conn)?;
    let plan = plan_catchup(from_version, current, ctx.max_catchup_ops, floor);
    tracing::info!(device = %device, from_version, current, floor, plan = ?plan, "catch-up");
    let payloads = match plan {
        CatchupPlan::Snapshot { version } => vec![rong_protocol::encode(
            &Downlink::new(DownlinkBody::SnapshotRequired {
                version,
                path: format!("/api/v1/snapshot/{branch}"),
            })
            .in_epoch(ctx.epoch),
        )],
        CatchupPlan::Deltas { from, to } => {
            let ops = central_store::ops_between(conn, from, to)?;
            let mut chunks = encode_chunks(from, &ops, branch, ctx.epoch);
            if chunks.is_empty() {
                chunks.push(rong_protocol::encode(
                    &Downlink::delta(rong_protocol::delta::Delta {
                        from_version: from,
                        to_version: from,
                        ops: Vec::new(),
                    })
                    .in_epoch(ctx.epoch),
                ));
            }
            chunks
        }
    };
    ctx.metrics.deltas(payloads.len() as u64);
    for payload in payloads {
        let _ = ctx.out.send(Outbound {
            topic: topic.clone(),
            payload,
        });
    }
    Ok(())
}
