//! PINs checked by central: a board sends the card and the PIN a reader typed to
//! [`PIN_PATH`] (a signed device request) and gets a [`PinAnswer`]. Central holds the PIN
//! hashes and the failure count of every card, so a lockout holds on every device.

use serde::{Deserialize, Serialize};

/// Where a board asks: `POST`, JSON [`PinCheck`] in, [`PinAnswer`] out.
pub const PIN_PATH: &str = "/api/v1/device/pin";

/// The longest PIN central takes (longer: 400, nothing counted).
pub const MAX_PIN_CHARS: usize = 32;

/// A card and the PIN typed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCheck {
    /// The card number.
    pub card: String,
    /// The PIN as typed.
    pub pin: String,
}

/// What central found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinOutcome {
    /// The PIN is right; the failure count is cleared.
    Right,
    /// This card needs no PIN at this branch.
    NotNeeded,
    /// Wrong; counted.
    Wrong,
    /// The card is locked (now, or already): no PIN is tried until `locked_until_ms`.
    Locked,
    /// No card with that number.
    UnknownPatron,
}

/// Central's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAnswer {
    /// The outcome.
    pub outcome: PinOutcome,
    /// Until when the card is locked, Unix ms, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until_ms: Option<i64>,
}
