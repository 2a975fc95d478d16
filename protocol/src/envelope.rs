//! Signed MQTT messages: every payload travels in an envelope its sender signed, so that a
//! misconfigured or compromised broker can drop messages but never forge them.
//!
//! The wire form is one header line, a newline, then the message exactly as it would travel
//! unsigned:
//!
//! ```text
//! {"signer":"d/kiosk-1","ts":1764720000000,"nonce":"…","sig":"…"}\n{"v":1,"log":…}
//! ```
//!
//! The body is not re-encoded, so it stays readable on the wire and costs no escaping. The
//! signature (Ed25519) covers a domain tag, the topic, the signer, the time, the nonce and
//! the body, so a message cannot be moved to another topic or claimed by another sender.
//! [`may_sign`] says which signer owns which topic, and [`Freshness`] refuses replays
//! without trusting the receiver's clock (a Pi has no battery clock).

use std::collections::{HashMap, HashSet, VecDeque};

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::ids::{BranchId, DeviceId};
use crate::topic::Topic;

/// Tags what the signature is for, so that it can never be mistaken for another use of the
/// same key (the device's HTTP requests, for one).
const DOMAIN: &[u8] = b"rong-mqtt-envelope-v1";

/// The longest header line accepted: the signer's id, the time, the nonce and the
/// signature fit in well under this.
pub const MAX_HEADER: usize = 512;

/// Who signed a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Signer {
    /// Central, with the key its devices pinned at enrolment.
    Central,
    /// A device, with the key it made at enrolment.
    Device(DeviceId),
}

impl Signer {
    /// The signer as it is written in the header: `central` or `d/{device}`.
    pub fn as_wire(&self) -> String {
        match self {
            Signer::Central => "central".into(),
            Signer::Device(d) => format!("d/{d}"),
        }
    }

    /// Parses the header's form; `None` for anything else.
    pub fn from_wire(s: &str) -> Option<Signer> {
        match s {
            "central" => Some(Signer::Central),
            _ => DeviceId::new(s.strip_prefix("d/")?)
                .ok()
                .map(Signer::Device),
        }
    }
}

/// Why an envelope was refused. Nothing in it was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an envelope: no header line, or a header that does not parse.
    #[error("not a signed message: {0}")]
    Malformed(String),
    /// The signer has no key here: unknown, never enrolled, or revoked.
    #[error("unknown signer {0}")]
    UnknownSigner(String),
    /// The signer may not publish on this topic.
    #[error("{signer} may not sign messages on {topic}")]
    NotOwner {
        /// The signer, as on the wire.
        signer: String,
        /// The topic.
        topic: String,
    },
    /// The signature does not match.
    #[error("bad signature from {0}")]
    BadSignature(String),
    /// Seen before, or older than the replay window allows.
    #[error("replayed or stale message from {0}")]
    Replay(String),
}

impl Refused {
    /// A short, stable label for metrics (`rejected_messages{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::Malformed(_) => "unsigned",
            Refused::UnknownSigner(_) => "unknown_signer",
            Refused::NotOwner { .. } => "not_owner",
            Refused::BadSignature(_) => "bad_signature",
            Refused::Replay(_) => "replay",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    signer: String,
    ts: i64,
    nonce: String,
    sig: String,
}

/// A message whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Who signed it.
    pub signer: Signer,
    /// The signer's clock when it signed, in Unix milliseconds.
    pub ts: i64,
    /// The signer's random nonce.
    pub nonce: [u8; 16],
    /// The message itself, as it would have travelled unsigned.
    pub body: &'a [u8],
}

/// The bytes the signature covers. Every variable part but the last is length-prefixed, so
/// no two different messages share them.
fn signed_bytes(topic: &str, signer: &str, ts: i64, nonce: &[u8; 16], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(DOMAIN.len() + topic.len() + signer.len() + body.len() + 48);
    for part in [DOMAIN, topic.as_bytes(), signer.as_bytes()] {
        b.extend_from_slice(&(part.len() as u32).to_be_bytes());
        b.extend_from_slice(part);
    }
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(nonce);
    b.extend_from_slice(body);
    b
}

/// Signs `body` for `topic` as `signer`, at `ts` (Unix ms) with a fresh random `nonce`.
pub fn seal(
    key: &SigningKey,
    signer: &Signer,
    topic: &str,
    ts: i64,
    nonce: [u8; 16],
    body: &[u8],
) -> Vec<u8> {
    let who = signer.as_wire();
    let sig = key.sign(&signed_bytes(topic, &who, ts, &nonce, body));
    let header = Header {
        signer: who,
        ts,
        nonce: B64.encode(nonce),
        sig: B64.encode(sig.to_bytes()),
    };
    // A header of strings and a number never fails to encode, and compact JSON has no
    // raw newline in it.
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// Checks `payload` received on `topic`: the header, the signer's right to the topic, and
/// the signature against the key `key_of` gives for the signer (`None`: unknown or
/// revoked). `branch_of` gives a device's enrolled branch. Freshness is the caller's next
/// step, through [`Freshness::admit`].
pub fn open<'a>(
    payload: &'a [u8],
    topic: &str,
    key_of: impl FnOnce(&Signer) -> Option<(VerifyingKey, Option<BranchId>)>,
) -> Result<Opened<'a>, Refused> {
    open_with(payload, topic, key_of, true)
}

/// Central's signature over `body` for `context` (not a topic: the answer to one HTTP
/// request, say), as the header line alone, to travel beside the body.
pub fn seal_detached(
    key: &SigningKey,
    context: &str,
    ts: i64,
    nonce: [u8; 16],
    body: &[u8],
) -> String {
    let sealed = seal(key, &Signer::Central, context, ts, nonce, body);
    let head = sealed.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(head).into_owned()
}

/// Checks a header line from [`seal_detached`]: central's signature, with `key`, over
/// `body` for `context`.
pub fn open_detached(
    header: &str,
    context: &str,
    body: &[u8],
    key: &VerifyingKey,
) -> Result<(), Refused> {
    if header.len() > MAX_HEADER || header.contains('\n') {
        return Err(Refused::Malformed("signature header".into()));
    }
    let mut payload = Vec::with_capacity(header.len() + 1 + body.len());
    payload.extend_from_slice(header.as_bytes());
    payload.push(b'\n');
    payload.extend_from_slice(body);
    let central = |s: &Signer| matches!(s, Signer::Central).then_some((*key, None));
    open_with(&payload, context, central, false).map(|_| ())
}

fn open_with<'a>(
    payload: &'a [u8],
    topic: &str,
    key_of: impl FnOnce(&Signer) -> Option<(VerifyingKey, Option<BranchId>)>,
    owner_check: bool,
) -> Result<Opened<'a>, Refused> {
    let malformed = |why: &str| Refused::Malformed(why.to_string());
    let split = payload
        .iter()
        .take(MAX_HEADER + 1)
        .position(|&b| b == b'\n')
        .ok_or_else(|| malformed("no header line"))?;
    let (head, body) = (&payload[..split], &payload[split + 1..]);
    let header: Header =
        serde_json::from_slice(head).map_err(|e| malformed(&format!("header: {e}")))?;
    let signer = Signer::from_wire(&header.signer)
        .ok_or_else(|| malformed(&format!("signer {:?}", header.signer)))?;
    let nonce: [u8; 16] = B64
        .decode(&header.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| malformed("nonce"))?;
    let sig: [u8; 64] = B64
        .decode(&header.sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("signature"))?;
    let (key, branch) =
        key_of(&signer).ok_or_else(|| Refused::UnknownSigner(header.signer.clone()))?;
    if owner_check && !may_sign(&signer, branch.as_ref(), topic) {
        return Err(Refused::NotOwner {
            signer: header.signer,
            topic: topic.to_string(),
        });
    }
    key.verify(
        &signed_bytes(topic, &header.signer, header.ts, &nonce, body),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| Refused::BadSignature(header.signer.clone()))?;
    Ok(Opened {
        signer,
        ts: header.ts,
        nonce,
        body,
    })
}

/// Whether `signer` may publish on `topic`: a device only its own uplink topics under its
/// enrolled branch (`branch`), central only the downlink ones.
pub fn may_sign(signer: &Signer, branch: Option<&BranchId>, topic: &str) -> bool {
    let Some(t) = Topic::parse(topic) else {
        return false;
    };
    match signer {
        Signer::Central => matches!(
            t,
            Topic::Ack(..) | Topic::Cmd(..) | Topic::DeviceDeltas(..) | Topic::BranchDeltas(..)
        ),
        Signer::Device(me) => match t {
            Topic::Events(b, d)
            | Topic::Status(b, d)
            | Topic::CmdReply(b, d)
            | Topic::Catchup(b, d) => &d == me && Some(&b) == branch,
            _ => false,
        },
    }
}

/// One signer's replay state: the newest time accepted and the nonces within the window.
#[derive(Debug, Default)]
struct Seen {
    newest: i64,
    /// A message at or before this time is refused: the window's edge, raised past any
    /// nonce that had to be forgotten to keep the set bounded.
    floor: i64,
    order: VecDeque<(i64, [u8; 16])>,
    nonces: HashSet<[u8; 16]>,
}

/// Refuses replays per signer without trusting the receiver's clock: a message is fresh
/// if it is no older than the signer's newest accepted message minus the window, and its
/// nonce was not seen within the window. Memory is bounded by `max_nonces` per signer;
/// when that is reached, the oldest nonce is forgotten and the floor rises to its time, so
/// a forgotten nonce can never be replayed.
///
/// A signer whose clock jumps far ahead moves its own window with it, and its later
/// messages at the right time are refused until that time comes: the harm stays with the
/// signer whose clock is wrong, and the receiver counts it.
#[derive(Debug)]
pub struct Freshness {
    window_ms: i64,
    max_nonces: usize,
    signers: HashMap<Signer, Seen>,
}

impl Freshness {
    /// A replay guard with a window of `window_ms` and at most `max_nonces` remembered per
    /// signer.
    pub fn new(window_ms: i64, max_nonces: usize) -> Freshness {
        Freshness {
            window_ms,
            max_nonces: max_nonces.max(1),
            signers: HashMap::new(),
        }
    }

    /// Admits an opened message, or refuses it as a replay. Only admitted messages move
    /// the signer's state.
    pub fn admit(&mut self, m: &Opened<'_>) -> Result<(), Refused> {
        let replay = || Refused::Replay(m.signer.as_wire());
        let seen = self
            .signers
            .entry(m.signer.clone())
            .or_insert_with(|| Seen {
                newest: m.ts,
                floor: i64::MIN,
                ..Seen::default()
            });
        let stale = m.ts < seen.newest.saturating_sub(self.window_ms) || m.ts <= seen.floor;
        if stale || seen.nonces.contains(&m.nonce) {
            return Err(replay());
        }
        seen.newest = seen.newest.max(m.ts);
        seen.order.push_back((m.ts, m.nonce));
        seen.nonces.insert(m.nonce);
        // Forget what has left the window, then anything beyond the bound.
        let edge = seen.newest.saturating_sub(self.window_ms);
        while let Some(&(ts, n)) = seen.order.front() {
            let over = seen.order.len() > self.max_nonces;
            if ts >= edge && !over {
                break;
            }
            seen.order.pop_front();
            seen.nonces.remove(&n);
            if over {
                seen.floor = seen.floor.max(ts);
            }
        }
        Ok(())
    }

    /// Forgets a signer (revoked, or re-enrolled with a new key).
    pub fn forget(&mut self, signer: &Signer) {
        self.signers.remove(signer);
    }
}

#[cfg(test)]
mod tests;
