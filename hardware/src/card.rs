//! NFC card readers.

use std::time::Duration;

use crate::sim::{SimHandle, SimReader};
use crate::ErrorKind;

/// A card reader failure.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The reader is gone.
    #[error("card reader disconnected: {0}")]
    Disconnected(String),
    /// The reader answered with something unusable.
    #[error("card reader sent garbage: {0}")]
    Garbage(String),
    /// Another I/O failure.
    #[error("card reader I/O error: {0}")]
    Io(String),
}

impl CardError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CardError::Disconnected(_) => ErrorKind::Disconnected,
            CardError::Garbage(_) => ErrorKind::Garbage,
            CardError::Io(_) => ErrorKind::Io,
        }
    }
}

/// What happened at the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEvent {
    /// A card arrived; its UID in upper-case hex.
    Present(String),
    /// The card left.
    Removed,
}

/// Something that sees cards come and go.
pub trait CardReader: Send {
    /// Waits up to `timeout` for the next event. `Ok(None)` means nothing happened.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>, CardError>;
}

/// Where the NFC reader is. In TOML: `connstring` and `poll_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NfcConfig {
    /// A libnfc connection string: `pn532_uart:/dev/ttyS0`, `pn532_i2c:/dev/i2c-1`,
    /// `acr122_usb:` (the first ACR122U). Unset: the first reader libnfc finds without an
    /// intrusive scan (USB readers only).
    pub connstring: Option<String>,
    /// Milliseconds between polls for a card.
    pub poll_ms: u64,
}

impl Default for NfcConfig {
    fn default() -> Self {
        Self {
            connstring: None,
            poll_ms: 150,
        }
    }
}

/// Normalises a UID to upper-case hex without separators (one definition, shared with
/// central's patron import).
pub use rong_protocol::ids::normalise_uid;

/// A simulated reader, driven through its [`SimCardHandle`].
pub type SimCard = SimReader<CardEvent>;

/// Drives a [`SimCard`].
pub type SimCardHandle = SimHandle<CardEvent>;

impl SimCardHandle {
    /// Puts a card on the reader.
    pub fn tap(&self, uid: &str) -> Result<(), CardError> {
        let uid = normalise_uid(uid).ok_or_else(|| CardError::Garbage(uid.to_owned()))?;
        self.event(CardEvent::Present(uid))
    }

    /// Takes the card off the reader.
    pub fn remove(&self) -> Result<(), CardError> {
        self.event(CardEvent::Removed)
    }

    fn event(&self, ev: CardEvent) -> Result<(), CardError> {
        self.send(ev).map_err(CardError::Disconnected)
    }
}

impl CardReader for SimCard {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>, CardError> {
        self.next(timeout).map_err(CardError::Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_config_from_toml() {
        let c: NfcConfig = toml::from_str("connstring = \"pn532_i2c:/dev/i2c-1\"").unwrap();
        assert_eq!(c.connstring.as_deref(), Some("pn532_i2c:/dev/i2c-1"));
        assert_eq!(c.poll_ms, NfcConfig::default().poll_ms);
        assert!(toml::from_str::<NfcConfig>("conn = \"x\"").is_err());
    }

    #[test]
    fn simulator() {
        let (mut r, h) = SimCard::new();
        h.tap("04a22b1a").unwrap();
        h.remove().unwrap();
        assert!(h.tap("nothex").is_err());
        assert_eq!(
            r.next_event(Duration::ZERO).unwrap(),
            Some(CardEvent::Present("04A22B1A".into()))
        );
        assert_eq!(
            r.next_event(Duration::ZERO).unwrap(),
            Some(CardEvent::Removed)
        );
        assert_eq!(r.next_event(Duration::from_millis(1)).unwrap(), None);
    }
}
