//! NFC card readers.

use std::sync::mpsc;
use std::time::Duration;

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

/// Normalises a UID to upper-case hex without separators; `None` if it is not 4 to 10
/// bytes of hex (ISO 14443A UIDs are 4, 7 or 10 bytes).
pub fn normalise_uid(raw: &str) -> Option<String> {
    let hex: String = raw
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    let ok = hex.len() % 2 == 0
        && (8..=20).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(hex)
}

/// A simulated reader, driven through its [`SimCardHandle`].
#[derive(Debug)]
pub struct SimCard {
    rx: mpsc::Receiver<CardEvent>,
}

/// Drives a [`SimCard`].
#[derive(Debug, Clone)]
pub struct SimCardHandle {
    tx: mpsc::Sender<CardEvent>,
}

impl SimCard {
    /// A simulated reader and the handle that taps cards on it.
    pub fn new() -> (Self, SimCardHandle) {
        let (tx, rx) = mpsc::channel();
        (Self { rx }, SimCardHandle { tx })
    }
}

impl SimCardHandle {
    /// Puts a card on the reader.
    pub fn tap(&self, uid: &str) -> Result<(), CardError> {
        let uid = normalise_uid(uid).ok_or_else(|| CardError::Garbage(uid.to_owned()))?;
        self.send(CardEvent::Present(uid))
    }

    /// Takes the card off the reader.
    pub fn remove(&self) -> Result<(), CardError> {
        self.send(CardEvent::Removed)
    }

    fn send(&self, ev: CardEvent) -> Result<(), CardError> {
        self.tx
            .send(ev)
            .map_err(|_| CardError::Disconnected("simulated reader closed".into()))
    }
}

impl CardReader for SimCard {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>, CardError> {
        match self.rx.recv_timeout(timeout) {
            Ok(ev) => Ok(Some(ev)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(CardError::Disconnected("simulator handle dropped".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids() {
        assert_eq!(normalise_uid("04:a2:2b:1a").as_deref(), Some("04A22B1A"));
        assert_eq!(
            normalise_uid("04A22B1A5C6D80").as_deref(),
            Some("04A22B1A5C6D80")
        );
        assert_eq!(normalise_uid("04A"), None);
        assert_eq!(normalise_uid("zz112233"), None);
        assert_eq!(normalise_uid(""), None);
    }

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
