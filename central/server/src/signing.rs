//! Signed MQTT on central's side: every message central publishes is sealed with its own
//! key (`central.key`, pinned by each device at enrolment), and every message a device
//! sends is opened with that device's enrolled key before anything reads it.
//!
//! A device's key is looked up once and cached; a signature that fails against a cached
//! key is checked once more against the database (the board may have been enrolled again
//! with a new key). A revoked device still has its key here: its signed events reach the
//! writer, which sets them aside in the quarantine for staff.
//!
//! Replays are refused per signer by [`Freshness`], except on status topics: a device's
//! will (its `offline` status) is sealed when it connects and delivered by the broker
//! whenever the connection drops, possibly long after, and a replayed status can only show
//! an old state.

use std::collections::HashMap;
use std::sync::Mutex;

use rong_identity::{KeyPair, PublicKey};
use rong_protocol::envelope::{Freshness, Refused, Signer};
use rong_protocol::topic::Topic;
use rong_protocol::{BranchId, DeviceId};

use central_store::{Reads, StoreError};

/// How far back a signer's message may be dated behind its newest one.
pub const REPLAY_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Nonces remembered per signer within the window.
pub const MAX_NONCES: usize = 4096;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Central's half: its key for sealing, and the devices' keys for opening.
#[derive(Debug)]
pub struct Envelopes {
    key: KeyPair,
    reads: Reads,
    keys: Mutex<HashMap<DeviceId, (PublicKey, BranchId)>>,
    fresh: Mutex<Freshness>,
}

impl Envelopes {
    /// Opens a PIN a board sealed to central's key for `card` while it could not ask
    /// central (`docs/TRUST.md`).
    pub fn open_pin(
        &self,
        sealed: &str,
        card: &str,
    ) -> Result<String, rong_identity::pin::SealError> {
        self.key.open_pin(sealed, card)
    }

    /// Seals with `key` (central's) and opens with the keys `reads` finds.
    pub fn new(key: KeyPair, reads: Reads) -> Envelopes {
        Envelopes {
            key,
            reads,
            keys: Mutex::new(HashMap::new()),
            fresh: Mutex::new(Freshness::new(REPLAY_WINDOW_MS, MAX_NONCES)),
        }
    }

    /// Central's public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// `body` sealed by central for `topic`.
    pub fn seal(&self, topic: &str, body: &[u8]) -> Vec<u8> {
        self.key.seal(&Signer::Central, topic, now_ms(), body)
    }

    /// Opens `payload` from `topic`: answers the message inside, or why it is refused.
    pub async fn open<'a>(&self, topic: &str, payload: &'a [u8]) -> Result<&'a [u8], Refused> {
        let claimed = claimed_device(payload);
        let cached = claimed.as_ref().and_then(|d| self.cached(d));
        let first = rong_identity::mqtt::open(payload, topic, |s| key_for(s, &cached));
        let opened = match (first, claimed) {
            (
                Err(
                    Refused::BadSignature(_) | Refused::UnknownSigner(_) | Refused::NotOwner { .. },
                ),
                Some(device),
            ) => {
                // The cache may be stale (a new enrolment, or nothing cached yet): ask the
                // database once.
                let found = self.load(&device).await;
                rong_identity::mqtt::open(payload, topic, |s| key_for(s, &found))?
            }
            (other, _) => other?,
        };
        let replay_checked = !matches!(Topic::parse(topic), Some(Topic::Status(..)));
        if replay_checked {
            self.fresh
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .admit(&opened)?;
        }
        Ok(opened.body)
    }

    fn cached(&self, device: &DeviceId) -> Option<(PublicKey, BranchId)> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device)
            .cloned()
    }

    /// Reads `device`'s key from the database into the cache.
    async fn load(&self, device: &DeviceId) -> Option<(PublicKey, BranchId)> {
        let id = device.to_string();
        let creds = self
            .reads
            .run(move |c| central_store::identity::device_credentials(c, &id))
            .await;
        let found = match creds {
            Ok(Some(c)) => c
                .public_key
                .as_deref()
                .and_then(|k| PublicKey::from_base64(k).ok())
                .map(|k| (k, c.branch)),
            Ok(None) => None,
            Err(e) => {
                log_store_error(&e);
                None
            }
        };
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &found {
            Some(k) => {
                // Bounded by the enrolled devices: only a key the database holds is kept.
                keys.insert(device.clone(), k.clone());
            }
            None => {
                keys.remove(device);
            }
        }
        found
    }
}

fn log_store_error(e: &StoreError) {
    tracing::error!(error = %e, "cannot read a device's key");
}

/// The device a payload's header names, read without trusting it: only to pick the key.
fn claimed_device(payload: &[u8]) -> Option<DeviceId> {
    let head = payload.split(|&b| b == b'\n').next()?;
    if head.len() > rong_protocol::envelope::MAX_HEADER {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(head).ok()?;
    match Signer::from_wire(v.get("signer")?.as_str()?)? {
        Signer::Device(d) => Some(d),
        Signer::Central => None,
    }
}

fn key_for(
    s: &Signer,
    found: &Option<(PublicKey, BranchId)>,
) -> Option<(PublicKey, Option<BranchId>)> {
    match s {
        // Central never signs what it receives; a message claiming to be central's on an
        // uplink topic is refused by the owner check, and here has no key.
        Signer::Central => None,
        Signer::Device(_) => found.as_ref().map(|(k, b)| (*k, Some(b.clone()))),
    }
}

impl Envelopes {
    /// Central's signature over `body` for `context`, as a header line to send beside it
    /// (a verdict's `rong-signature`, a snapshot's trailer).
    pub fn sign_detached(&self, context: &str, body: &[u8]) -> String {
        self.key.seal_detached(context, now_ms(), body)
    }
}

impl central_digitise::http::VerdictSigner for Envelopes {
    fn sign(&self, context: &str, body: &[u8]) -> String {
        self.sign_detached(context, body)
    }
}
