//! Device status (retained, with the will) and commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::{Invalid, Versioned};
use crate::ids::{BranchId, DeviceId};
use crate::limits::{
    too_long, too_long_opt, too_many, MAX_HARDWARE_ENTRIES, MAX_MESSAGE_CHARS, MAX_SHORT_CHARS,
};
use crate::SCHEMA_VERSION;

/// Whether the agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Connected and heartbeating.
    Online,
    /// Gone: set by the MQTT will, or by a clean shutdown.
    Offline,
}

/// The health of one piece of hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working.
    Ok,
    /// Not there: unplugged, or never found.
    Missing,
    /// There but failing.
    Error,
}

/// One piece of hardware's health, with a detail for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareStatus {
    /// The state.
    pub health: Health,
    /// What is wrong, in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A device's status on `.../status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// Schema version.
    pub v: u32,
    /// The device.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// Online or offline.
    pub state: DeviceState,
    /// Agent version.
    pub version: String,
    /// Changes at every start of the agent.
    pub boot_id: String,
    /// When the agent started, ms since the epoch (device clock).
    pub started_at: i64,
    /// When this status was made, ms since the epoch (device clock).
    pub at: i64,
    /// Whether the clock has been synced since boot.
    pub time_synced: bool,
    /// Events not yet acked by central.
    pub outbox_depth: u64,
    /// Age of the oldest unacked event, in seconds.
    pub oldest_unsynced_age_s: Option<u64>,
    /// The reference-data version the device holds.
    pub catalogue_version: u64,
    /// Free bytes on the data disk.
    pub disk_free_bytes: Option<u64>,
    /// SoC temperature.
    pub temperature_c: Option<f32>,
    /// Each piece of hardware by name, such as `barcode` or `nfc`.
    pub hardware: BTreeMap<String, HardwareStatus>,
    /// The digitisation upload queue, on a station with a document scanner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitise: Option<crate::digitise::DigitiseStatus>,
}

impl Versioned for DeviceStatus {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), Invalid> {
        too_long("version", &self.version, MAX_SHORT_CHARS)?;
        too_long("boot id", &self.boot_id, MAX_SHORT_CHARS)?;
        too_many("hardware", self.hardware.len(), MAX_HARDWARE_ENTRIES)?;
        for (name, hw) in &self.hardware {
            too_long("hardware name", name, MAX_SHORT_CHARS)?;
            too_long_opt("hardware detail", hw.detail.as_deref(), MAX_MESSAGE_CHARS)?;
        }
        let uploading = self.digitise.as_ref().and_then(|d| d.uploading.as_deref());
        too_long_opt("uploading job", uploading, MAX_SHORT_CHARS)
    }
}

/// What central asks a device to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CommandKind {
    /// Publish the outbox and catch up now.
    SyncNow,
    /// Read the config file again.
    ReloadConfig,
    /// Show a message on the kiosk.
    ShowMessage {
        /// The text.
        text: String,
        /// How long, in seconds.
        seconds: u32,
    },
    /// Reboot the board.
    Reboot,
}

impl CommandKind {
    /// Checks the length of a message's text ([`crate::limits::MAX_MESSAGE_CHARS`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        match self {
            CommandKind::ShowMessage { text, .. } => too_long("text", text, MAX_MESSAGE_CHARS),
            _ => Ok(()),
        }
    }
}

/// A message on `.../cmd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Schema version.
    pub v: u32,
    /// Correlation id, echoed in the reply.
    pub id: String,
    /// What to do.
    #[serde(flatten)]
    pub kind: CommandKind,
}

impl Versioned for Command {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.id.is_empty() || self.id.len() > MAX_SHORT_CHARS {
            return Err(Invalid(format!(
                "command id must be 1 to {MAX_SHORT_CHARS} bytes"
            )));
        }
        self.kind.check_lengths()
    }
}

/// A message on `.../cmd-reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    /// Schema version.
    pub v: u32,
    /// The command's id.
    pub id: String,
    /// Whether it was done.
    pub ok: bool,
    /// What happened, in English.
    pub message: String,
}

impl CommandReply {
    /// A reply at the current schema version.
    pub fn new(id: String, ok: bool, message: impl Into<String>) -> Self {
        Self {
            v: SCHEMA_VERSION,
            id,
            ok,
            message: message.into(),
        }
    }
}

impl Versioned for CommandReply {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), Invalid> {
        too_long("command id", &self.id, MAX_SHORT_CHARS)?;
        too_long("message", &self.message, MAX_MESSAGE_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn command_round_trip() {
        let c = Command {
            v: SCHEMA_VERSION,
            id: "c1".into(),
            kind: CommandKind::ShowMessage {
                text: "Thư viện đóng cửa lúc 17:00".into(),
                seconds: 30,
            },
        };
        let bytes = encode(&c);
        assert!(std::str::from_utf8(&bytes)
            .unwrap()
            .contains(r#""command":"show_message""#));
        assert_eq!(decode::<Command>(&bytes).unwrap(), c);
        assert_eq!(
            decode::<Command>(br#"{"v":1,"id":"x","command":"sync_now"}"#)
                .unwrap()
                .kind,
            CommandKind::SyncNow
        );
    }
}
