//! NFC card readers through libnfc (`nfc1`, feature `nfc`): PN532 over UART or I2C,
//! ACR122U over USB.
//!
//! The reader polls for ISO 14443A cards (MIFARE, NTAG, the common library cards); a card
//! that arrives is reported once with its UID, and again only after it has left.

use std::time::{Duration, Instant};

use nfc1::target_info::TargetInfo;
use nfc1::{BaudRate, Modulation, ModulationType, Property};

use crate::card::{CardError, CardEvent, CardReader, NfcConfig};

/// The pure part: turns what each poll saw into card-present and card-removed events.
#[derive(Debug, Default)]
pub struct CardTracker {
    present: Option<String>,
}

impl CardTracker {
    /// A tracker that has seen no card.
    pub fn new() -> Self {
        Self::default()
    }

    /// The card on the reader, as last seen.
    pub fn present(&self) -> Option<&str> {
        self.present.as_deref()
    }

    /// Records what a poll saw (`None`: no card). A card swapped for another between two
    /// polls gives `Removed` then `Present`.
    pub fn saw(&mut self, uid: Option<String>) -> Vec<CardEvent> {
        if uid == self.present {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.present.is_some() {
            out.push(CardEvent::Removed);
        }
        if let Some(u) = &uid {
            out.push(CardEvent::Present(u.clone()));
        }
        self.present = uid;
        out
    }
}

/// A [`CardReader`] on a libnfc device.
///
/// When the reader fails (unplugged, I/O error) a card that was on it is reported removed,
/// the read after that returns `Disconnected`, and each later read tries to open the reader
/// again, so it resumes when it comes back.
pub struct NfcReader {
    config: NfcConfig,
    // Declared before the context: the device must close first.
    device: Option<nfc1::Device>,
    context: nfc1::Context,
    tracker: CardTracker,
    present_target: Option<nfc1::Target>,
    queued: std::collections::VecDeque<CardEvent>,
}

impl std::fmt::Debug for NfcReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::device::debug_driver(f, "NfcReader", &self.config, self.device.is_some())
            .field("present", &self.tracker.present())
            .finish()
    }
}

const ISO14443A: Modulation = Modulation {
    modulation_type: ModulationType::Iso14443a,
    baud_rate: BaudRate::Baud106,
};

impl NfcReader {
    /// Opens the reader. With none there it fails with `Disconnected` and a message that
    /// names the connection string.
    pub fn open(config: NfcConfig) -> Result<Self, CardError> {
        let mut me = Self::closed(config)?;
        me.reopen()?;
        Ok(me)
    }

    /// A reader that has not opened its device yet; the first read tries to.
    pub fn closed(config: NfcConfig) -> Result<Self, CardError> {
        let context =
            nfc1::Context::new().map_err(|e| CardError::Io(format!("cannot start libnfc: {e}")))?;
        Ok(Self {
            config,
            device: None,
            context,
            tracker: CardTracker::new(),
            present_target: None,
            queued: Default::default(),
        })
    }

    /// The readers libnfc can see without an intrusive scan (for `ctl` and logs).
    pub fn list(&mut self) -> Result<Vec<String>, CardError> {
        self.context
            .list_devices(8)
            .map_err(|e| CardError::Io(format!("cannot list NFC readers: {e}")))
    }

    fn target_name(&self) -> String {
        self.config
            .connstring
            .clone()
            .unwrap_or_else(|| "the first NFC reader found".into())
    }

    /// Closes the reader (if open) and opens it again.
    pub fn reopen(&mut self) -> Result<(), CardError> {
        self.device = None;
        let name = self.target_name();
        let opened = match &self.config.connstring {
            Some(c) => self.context.open_with_connstring(c),
            None => self.context.open(),
        };
        let mut dev = opened.map_err(|e| {
            CardError::Disconnected(format!(
                "no NFC reader at {name} ({e}): is it plugged in, and is the connstring \
                 right (pn532_uart:/dev/ttyS0, pn532_i2c:/dev/i2c-1, acr122_usb:)?"
            ))
        })?;
        dev.initiator_init()
            .map_err(|e| CardError::Disconnected(format!("{name}: cannot start polling: {e}")))?;
        // Without this libnfc waits forever for a card on each select.
        dev.set_property_bool(Property::InfiniteSelect, false)
            .map_err(|e| CardError::Io(format!("{name}: {e}")))?;
        tracing::info!(reader = %name, device = dev.name(), "NFC reader open");
        self.device = Some(dev);
        Ok(())
    }

    fn disconnect(&mut self, why: impl std::fmt::Display) -> CardError {
        tracing::warn!(reader = %self.target_name(), error = %why, "NFC reader gone");
        self.device = None;
        self.present_target = None;
        CardError::Disconnected(format!("{}: {why}", self.target_name()))
    }

    /// One poll: which card is on the reader now.
    fn poll_once(&mut self) -> Result<Option<String>, CardError> {
        let Some(dev) = self.device.as_mut() else {
            return Err(self.disconnect("reader closed"));
        };
        if let Some(target) = &self.present_target {
            return match dev.initiator_target_is_present(target) {
                Ok(()) => Ok(self.tracker.present().map(str::to_owned)),
                Err(e) if reader_gone(e) => Err(self.disconnect(e)),
                Err(_) => {
                    self.present_target = None;
                    Ok(None)
                }
            };
        }
        match dev.initiator_select_passive_target(&ISO14443A) {
            Ok(target) => match uid_of(&target) {
                Some(uid) => {
                    self.present_target = Some(target);
                    Ok(Some(uid))
                }
                None => Ok(None),
            },
            Err(e) if reader_gone(e) => Err(self.disconnect(e)),
            Err(_) => Ok(None),
        }
    }
}

/// The UID of an ISO 14443A target in upper-case hex, if it has one.
fn uid_of(target: &nfc1::Target) -> Option<String> {
    let TargetInfo::Iso14443a(info) = &target.target_info else {
        return None;
    };
    let uid = info.uid.get(..info.uid_len)?;
    if uid.is_empty() {
        return None;
    }
    Some(uid.iter().map(|b| format!("{b:02X}")).collect())
}

/// Whether a libnfc error means the reader itself is gone (rather than the card).
fn reader_gone(e: nfc1::Error) -> bool {
    matches!(
        e,
        nfc1::Error::Io | nfc1::Error::NoSuchDeviceFound | nfc1::Error::NoDeviceFound
    )
}

impl CardReader for NfcReader {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<CardEvent>, CardError> {
        if let Some(ev) = self.queued.pop_front() {
            return Ok(Some(ev));
        }
        if self.device.is_none() {
            self.reopen()?;
        }
        let deadline = Instant::now() + timeout;
        let period = Duration::from_millis(self.config.poll_ms.max(10));
        loop {
            let seen = match self.poll_once() {
                Ok(seen) => seen,
                // A card on a reader that vanished is no longer there for the kiosk: say so
                // first. The reader is closed now, so the next read reports it missing
                // (or finds it back).
                Err(e) if self.tracker.present().is_some() => {
                    tracing::debug!(error = %e, "card removed with its reader");
                    self.tracker.saw(None);
                    return Ok(Some(CardEvent::Removed));
                }
                Err(e) => return Err(e),
            };
            self.queued.extend(self.tracker.saw(seen));
            if let Some(ev) = self.queued.pop_front() {
                return Ok(Some(ev));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(period));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn tracker_reports_arrivals_and_departures_once() {
        let mut t = CardTracker::new();
        assert!(t.saw(None).is_empty());
        assert_eq!(
            t.saw(Some("04A22B1A".into())),
            vec![CardEvent::Present("04A22B1A".into())]
        );
        assert!(t.saw(Some("04A22B1A".into())).is_empty(), "held card");
        assert_eq!(
            t.saw(Some("11223344".into())),
            vec![CardEvent::Removed, CardEvent::Present("11223344".into())]
        );
        assert_eq!(t.saw(None), vec![CardEvent::Removed]);
        assert!(t.saw(None).is_empty());
    }

    #[test]
    fn no_reader_is_a_clear_disconnected_error() {
        // This machine has no NFC reader; a PN532 on a serial port that does not exist
        // must fail to open with a message that says what to check.
        let config = NfcConfig {
            connstring: Some("pn532_uart:/dev/ttyRONGNONE".into()),
            ..NfcConfig::default()
        };
        let err = NfcReader::open(config.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("no NFC reader at pn532_uart:/dev/ttyRONGNONE"),
            "{text}"
        );
        // A reader made closed fails the same way on its first read, and keeps trying.
        let mut r = NfcReader::closed(config).unwrap();
        for _ in 0..2 {
            let err = r.next_event(Duration::from_millis(1)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Disconnected);
        }
        assert!(r.list().is_ok());
    }
}
