//! Events up: what happened on a device, in its own order.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::barcode;
use crate::codec::{Invalid, Versioned};
use crate::ids::DeviceId;
use crate::limits::MAX_SEALED_PIN_CHARS;
use crate::{MAX_BATCH_EVENTS, SCHEMA_VERSION};

/// One event from a device's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the device's log: 1, 2, 3, … with no gaps.
    pub seq: u64,
    /// A UUIDv7, unique across devices.
    pub id: Uuid,
    /// The device clock when it happened, in milliseconds since the Unix epoch. For display.
    pub at: i64,
    /// Whether the device clock had been synced since boot when this happened.
    pub clock_synced: bool,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A reader identified at the device (a visit).
    Identify {
        /// The patron's card number.
        patron: String,
        /// The PIN the reader typed, sealed to central's key, when the device could not
        /// ask central (offline): central checks it when the event arrives
        /// (`docs/TRUST.md`). Base64, at most [`MAX_SEALED_PIN_CHARS`] characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
    },
    /// An item was lent.
    Checkout {
        /// The item barcode.
        item: String,
        /// The patron's card number.
        patron: String,
        /// The due date the device gave the reader.
        due: NaiveDate,
    },
    /// An item came back.
    Checkin {
        /// The item barcode.
        item: String,
        /// The patron the device believed had it, if any.
        patron: Option<String>,
    },
    /// A loan was renewed.
    Renew {
        /// The item barcode.
        item: String,
        /// The patron's card number.
        patron: String,
        /// The new due date.
        due: NaiveDate,
        /// Renewals made on this loan, this one included.
        renewals: u32,
    },
    /// A patron's PIN was locked after too many wrong tries.
    PinLocked {
        /// The patron's card number.
        patron: String,
    },
}

impl EventBody {
    /// The event kind as a short name, for logs, metrics and the database.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Identify { .. } => "identify",
            EventBody::Checkout { .. } => "checkout",
            EventBody::Checkin { .. } => "checkin",
            EventBody::Renew { .. } => "renew",
            EventBody::PinLocked { .. } => "pin_locked",
        }
    }

    fn codes(&self) -> Vec<&str> {
        match self {
            EventBody::Identify { patron, .. } | EventBody::PinLocked { patron } => vec![patron],
            EventBody::Checkout { item, patron, .. } | EventBody::Renew { item, patron, .. } => {
                vec![item, patron]
            }
            EventBody::Checkin { item, patron } => {
                let mut v = vec![item.as_str()];
                v.extend(patron.as_deref());
                v
            }
        }
    }
}

/// One MQTT message on `.../events`: a run of consecutive events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Schema version.
    pub v: u32,
    /// The device that made the events; must match the topic.
    pub device: DeviceId,
    /// The id of the device's event log, made when its database was created. A board
    /// whose storage is wiped starts a new log at seq 1, which central must not take for
    /// a replay of the old one.
    pub log: Uuid,
    /// Events with consecutive `seq`s, lowest first.
    pub events: Vec<Event>,
}

impl EventBatch {
    /// A batch at the current schema version.
    pub fn new(device: DeviceId, log: Uuid, events: Vec<Event>) -> Self {
        Self {
            v: SCHEMA_VERSION,
            device,
            log,
            events,
        }
    }
}

impl Versioned for EventBatch {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.events.is_empty() {
            return Err(Invalid("empty batch".into()));
        }
        if self.events.len() > MAX_BATCH_EVENTS {
            return Err(Invalid(format!(
                "batch of {} events exceeds {MAX_BATCH_EVENTS}",
                self.events.len()
            )));
        }
        let first = self.events[0].seq;
        if first == 0 {
            return Err(Invalid("seq starts at 1".into()));
        }
        for (i, e) in self.events.iter().enumerate() {
            if first.checked_add(i as u64) != Some(e.seq) {
                return Err(Invalid(format!("seq {} out of order in batch", e.seq)));
            }
            if let Some(bad) = e.body.codes().into_iter().find(|c| !barcode::is_valid(c)) {
                return Err(Invalid(format!("bad code {bad:?} in event {}", e.seq)));
            }
            if let EventBody::Identify { pin: Some(pin), .. } = &e.body {
                if pin.len() > MAX_SEALED_PIN_CHARS {
                    return Err(Invalid(format!(
                        "sealed PIN over {MAX_SEALED_PIN_CHARS} characters in event {}",
                        e.seq
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Central → device on `.../ack`: every event up to `acked_through` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Schema version.
    pub v: u32,
    /// The event log this ack is about; a device ignores acks for another log.
    pub log: Uuid,
    /// The highest contiguous seq applied at central.
    pub acked_through: u64,
    /// Central's epoch (see `docs/SYNC.md`); absent from centrals that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Uuid>,
}

impl Ack {
    /// An ack at the current schema version, with no epoch.
    pub fn new(log: Uuid, acked_through: u64) -> Self {
        Self {
            v: SCHEMA_VERSION,
            log,
            acked_through,
            epoch: None,
        }
    }

    /// The same ack, sent in central's `epoch`.
    pub fn in_epoch(self, epoch: Uuid) -> Self {
        Self {
            epoch: Some(epoch),
            ..self
        }
    }
}

impl Versioned for Ack {
    fn version(&self) -> u32 {
        self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn an_ack_without_an_epoch_still_decodes_and_one_with_it_round_trips() {
        let log = Uuid::now_v7();
        let old = format!(r#"{{"v":1,"log":"{log}","acked_through":4}}"#);
        let ack = decode::<Ack>(old.as_bytes()).unwrap();
        assert_eq!(ack, Ack::new(log, 4));
        assert_eq!(ack.epoch, None);
        let epoch = Uuid::now_v7();
        let bytes = encode(&Ack::new(log, 5).in_epoch(epoch));
        assert_eq!(decode::<Ack>(&bytes).unwrap().epoch, Some(epoch));
        // A reader that predates the field ignores it.
        #[derive(Deserialize)]
        struct Before {
            acked_through: u64,
        }
        let before: Before = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(before.acked_through, 5);
    }

    fn ev(seq: u64, body: EventBody) -> Event {
        Event {
            seq,
            id: Uuid::now_v7(),
            at: 1_760_000_000_000,
            clock_synced: true,
            body,
        }
    }

    fn checkout(seq: u64) -> Event {
        ev(
            seq,
            EventBody::Checkout {
                item: "KT000001".into(),
                patron: "P0001".into(),
                due: NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
            },
        )
    }

    #[test]
    fn batch_round_trip() {
        let d = DeviceId::new("kontum-kiosk-1").unwrap();
        let b = EventBatch::new(d, Uuid::now_v7(), vec![checkout(4), checkout(5)]);
        let bytes = encode(&b);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\"kind\":\"checkout\""), "{text}");
        assert_eq!(decode::<EventBatch>(&bytes).unwrap(), b);
    }

    #[test]
    fn batch_rules() {
        let d = DeviceId::new("k").unwrap();
        assert!(EventBatch::new(d.clone(), Uuid::nil(), vec![])
            .validate()
            .is_err());
        assert!(
            EventBatch::new(d.clone(), Uuid::nil(), vec![checkout(1), checkout(3)])
                .validate()
                .is_err()
        );
        assert!(EventBatch::new(d.clone(), Uuid::nil(), vec![checkout(0)])
            .validate()
            .is_err());
        let bad = ev(
            1,
            EventBody::Identify {
                patron: "a\nb".into(),
                pin: None,
            },
        );
        assert!(EventBatch::new(d.clone(), Uuid::nil(), vec![bad])
            .validate()
            .is_err());
        let bad = ev(
            1,
            EventBody::Identify {
                patron: "P1".into(),
                pin: Some("A".repeat(crate::limits::MAX_SEALED_PIN_CHARS + 1)),
            },
        );
        assert!(EventBatch::new(d.clone(), Uuid::nil(), vec![bad])
            .validate()
            .is_err());
        let wraps = vec![checkout(u64::MAX), checkout(0)];
        assert!(EventBatch::new(d.clone(), Uuid::nil(), wraps)
            .validate()
            .is_err());
        let many = (1..=(MAX_BATCH_EVENTS as u64 + 1)).map(checkout).collect();
        assert!(EventBatch::new(d, Uuid::nil(), many).validate().is_err());
    }
}
