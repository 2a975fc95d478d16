//! PINs checked by central: a board sends the card and the PIN a reader typed to
//! [`PIN_PATH`] (a signed device request) and gets a [`PinAnswer`]. Central holds the PIN
//! hashes and the failure count of every card, so a lockout holds on every device. A board
//! that cannot ask seals the PIN to central's key ([`seal_pin`]) for central to check when
//! the visit's event arrives ([`crate::KeyPair::open_pin`]).

use serde::{Deserialize, Serialize};

use crate::PublicKey;

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

/// The most bytes of PIN a sealed PIN holds; the plain text is always this long, so the
/// sealed length says nothing about the PIN.
pub const SEALED_PIN_BYTES: usize = MAX_PIN_CHARS;

/// Why a PIN could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The PIN is longer than [`SEALED_PIN_BYTES`].
    #[error("the PIN is longer than {SEALED_PIN_BYTES} bytes")]
    TooLong,
    /// Not base64, not sealed to this key, or altered.
    #[error("the sealed PIN does not open with central's key")]
    Unopenable,
    /// It opens, but was sealed for another card.
    #[error("the sealed PIN is for another card")]
    OtherCard,
}

/// Seals `pin`, typed for `card`, so that only the holder of `central`'s secret key can
/// read it: a NaCl sealed box (X25519, XSalsa20-Poly1305) to the X25519 form of central's
/// Ed25519 key, which every enrolled board already pins. A board that cannot ask central
/// keeps this in its log, and central checks the PIN when the event arrives. The plain
/// text binds the card, so a sealed PIN moved to another card's event does not check.
pub fn seal_pin(central: &PublicKey, card: &str, pin: &str) -> Result<String, SealError> {
    use base64::Engine as _;
    let pin = pin.as_bytes();
    if pin.len() > SEALED_PIN_BYTES {
        return Err(SealError::TooLong);
    }
    let mut plain = Vec::with_capacity(1 + SEALED_PIN_BYTES + card.len());
    plain.push(pin.len() as u8);
    plain.extend_from_slice(pin);
    plain.resize(1 + SEALED_PIN_BYTES, 0);
    plain.extend_from_slice(card.as_bytes());
    let to = crypto_box::PublicKey::from(central.0.to_montgomery().to_bytes());
    let sealed = to
        .seal(&mut rand::rngs::OsRng, &plain)
        .map_err(|_| SealError::Unopenable)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

impl crate::KeyPair {
    /// Opens a PIN sealed by [`seal_pin`] to this key for `card`.
    pub fn open_pin(&self, sealed: &str, card: &str) -> Result<String, SealError> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SealError::Unopenable)?;
        let secret = crypto_box::SecretKey::from(self.0.to_scalar_bytes());
        let plain = secret.unseal(&bytes).map_err(|_| SealError::Unopenable)?;
        let n = usize::from(*plain.first().ok_or(SealError::Unopenable)?);
        if n > SEALED_PIN_BYTES || plain.len() < 1 + SEALED_PIN_BYTES {
            return Err(SealError::Unopenable);
        }
        if &plain[1 + SEALED_PIN_BYTES..] != card.as_bytes() {
            return Err(SealError::OtherCard);
        }
        String::from_utf8(plain[1..1 + n].to_vec()).map_err(|_| SealError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    #[test]
    fn a_sealed_pin_opens_with_central_key_only_and_for_its_card_only() {
        let central = KeyPair::generate();
        let sealed = seal_pin(&central.public(), "P0001", "2468").unwrap();
        assert!(!sealed.contains("2468"));
        assert_eq!(central.open_pin(&sealed, "P0001").unwrap(), "2468");
        assert_eq!(
            central.open_pin(&sealed, "P0002"),
            Err(SealError::OtherCard),
            "moved to another card's event"
        );
        // A board's own key (or anyone else's) cannot read it.
        let board = KeyPair::generate();
        assert_eq!(board.open_pin(&sealed, "P0001"), Err(SealError::Unopenable));
        // Altered in transit or storage: refused, not misread.
        let mut bytes =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        assert_eq!(
            central.open_pin(&altered, "P0001"),
            Err(SealError::Unopenable)
        );
        assert_eq!(
            central.open_pin("not base64!", "P0001"),
            Err(SealError::Unopenable)
        );
    }

    #[test]
    fn sealed_pins_are_fresh_each_time_and_do_not_show_the_pin_length() {
        let central = KeyPair::generate();
        let a = seal_pin(&central.public(), "P0001", "1234").unwrap();
        let b = seal_pin(&central.public(), "P0001", "1234").unwrap();
        assert_ne!(a, b, "a fresh ephemeral key each time");
        let long = seal_pin(&central.public(), "P0001", "12345678").unwrap();
        assert_eq!(a.len(), long.len());
        assert_eq!(central.open_pin(&long, "P0001").unwrap(), "12345678");
        assert_eq!(
            seal_pin(
                &central.public(),
                "P0001",
                &"9".repeat(SEALED_PIN_BYTES + 1)
            ),
            Err(SealError::TooLong)
        );
        assert!(seal_pin(&central.public(), "P0001", "").is_ok());
    }
}
