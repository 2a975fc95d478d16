//! Encoding and checked decoding of every message: size, version, shape, then meaning.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{MAX_PAYLOAD, SCHEMA_VERSION};

/// A message that carries a schema version and can check its own meaning.
pub trait Versioned {
    /// The `v` field.
    fn version(&self) -> u32;
    /// Checks rules that serde cannot express.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

/// A rule a well-formed message broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD}-byte limit")]
    Oversized(usize),
    /// Not JSON, or not the expected shape.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A schema version this build does not speak.
    #[error("unsupported schema version {0} (this build speaks {SCHEMA_VERSION})")]
    WrongVersion(u32),
    /// Well-formed but breaks a rule.
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl DecodeError {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Oversized(_) => "oversized",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::WrongVersion(_) => "wrong_version",
            DecodeError::Invalid(_) => "invalid",
        }
    }
}

#[derive(Deserialize)]
struct Probe {
    v: Option<u32>,
}

/// Decodes a payload, checking size, then version, then shape, then rules.
pub fn decode<T: DeserializeOwned + Versioned>(payload: &[u8]) -> Result<T, DecodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(DecodeError::Oversized(payload.len()));
    }
    // Look at `v` first, so that a newer sender gets "wrong version", not "malformed".
    let probe: Probe =
        serde_json::from_slice(payload).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    match probe.v {
        Some(SCHEMA_VERSION) => {}
        Some(v) => return Err(DecodeError::WrongVersion(v)),
        None => return Err(DecodeError::Malformed("missing field `v`".into())),
    }
    let msg: T =
        serde_json::from_slice(payload).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if msg.version() != SCHEMA_VERSION {
        return Err(DecodeError::WrongVersion(msg.version()));
    }
    msg.validate()
        .map_err(|Invalid(s)| DecodeError::Invalid(s))?;
    Ok(msg)
}

/// Encodes a message as compact JSON.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serialising our own plain data types cannot fail: no maps with non-string keys.
    serde_json::to_vec(msg).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Ack;

    #[test]
    fn refusals() {
        assert_eq!(
            decode::<Ack>(&vec![b' '; MAX_PAYLOAD + 1])
                .unwrap_err()
                .kind(),
            "oversized"
        );
        assert_eq!(decode::<Ack>(b"{nope").unwrap_err().kind(), "malformed");
        assert_eq!(
            decode::<Ack>(br#"{"acked_through":1}"#).unwrap_err().kind(),
            "malformed"
        );
        assert_eq!(
            decode::<Ack>(
                br#"{"v":2,"log":"00000000-0000-0000-0000-000000000000","acked_through":1}"#
            )
            .unwrap_err(),
            DecodeError::WrongVersion(2)
        );
        assert_eq!(
            decode::<Ack>(
                br#"{"v":1,"log":"00000000-0000-0000-0000-000000000000","acked_through":-1}"#
            )
            .unwrap_err()
            .kind(),
            "malformed"
        );
        assert_eq!(
            decode::<Ack>(
                br#"{"v":1,"log":"00000000-0000-0000-0000-000000000000","acked_through":7}"#
            )
            .unwrap(),
            Ack::new(uuid::Uuid::nil(), 7)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode::<crate::event::EventBatch>(&bytes);
            let _ = decode::<crate::delta::Downlink>(&bytes);
        }
    }
}
