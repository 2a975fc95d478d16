//! The one rule for codes: item barcodes, card numbers and NFC UIDs.
//!
//! A code is 1 to [`MAX_LEN`] printable ASCII characters (`!` to `~`, no spaces). Central
//! refuses a whole event batch holding a code that breaks this rule, so every reader (the
//! agent's serial and wedge drivers, the kiosk's keyboard wedge) refuses such a code as it
//! is read, before it can reach an event. The rule takes every character the common
//! symbologies carry (Code 39's `$ / + %`, Code 128's full printable set) and nothing that
//! only a misread, a wrong keyboard layout or a stuck control key produces.

/// The longest code, in characters (all ASCII, so also in bytes).
pub const MAX_LEN: usize = 64;

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing but whitespace.
    #[error("empty code")]
    Empty,
    /// Longer than [`MAX_LEN`]: a misread or a stuck key.
    #[error("code longer than {MAX_LEN} characters")]
    TooLong,
    /// Spaces, control characters or non-ASCII: characters no barcode has.
    #[error("code holds characters no barcode has")]
    Garbage,
}

/// Whether `c` may appear in a code.
pub fn is_code_char(c: char) -> bool {
    c.is_ascii_graphic()
}

/// Checks a code exactly as given.
///
/// A code of more than [`MAX_LEN`] characters is [`CodeError::TooLong`] whatever it holds,
/// so a stuck key reads as too long rather than as garbage.
pub fn check(code: &str) -> Result<(), CodeError> {
    if code.is_empty() {
        Err(CodeError::Empty)
    } else if code.chars().count() > MAX_LEN {
        Err(CodeError::TooLong)
    } else if !code.chars().all(is_code_char) {
        Err(CodeError::Garbage)
    } else {
        Ok(())
    }
}

/// Whether a code is valid on the wire ([`check`] passes).
pub fn is_valid(code: &str) -> bool {
    check(code).is_ok()
}

/// Trims the whitespace a reader puts around a code (line endings, padding) and checks
/// what is left; answers the code itself.
pub fn clean(raw: &str) -> Result<&str, CodeError> {
    let code = raw.trim();
    check(code).map(|()| code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};
    use crate::event::{Event, EventBatch, EventBody};
    use crate::ids::DeviceId;
    use crate::SCHEMA_VERSION;
    use proptest::prelude::*;

    #[test]
    fn codes() {
        assert_eq!(check("KT0001234"), Ok(()));
        assert_eq!(check("A-1.2/3_4+5$%"), Ok(()), "Code 39's symbols");
        assert_eq!(check(""), Err(CodeError::Empty));
        assert_eq!(check("a b"), Err(CodeError::Garbage));
        assert_eq!(check("\u{1b}[A"), Err(CodeError::Garbage));
        assert_eq!(check("mã"), Err(CodeError::Garbage));
        assert_eq!(check(&"1".repeat(MAX_LEN)), Ok(()));
        assert_eq!(check(&"1".repeat(MAX_LEN + 1)), Err(CodeError::TooLong));
        assert_eq!(check(&"é".repeat(MAX_LEN + 1)), Err(CodeError::TooLong));
        assert!(is_valid("P000001"));
        assert!(!is_valid(" P000001"), "check takes the code as given");
    }

    #[test]
    fn clean_trims_what_readers_add() {
        assert_eq!(clean("KT0001\r\n"), Ok("KT0001"));
        assert_eq!(clean("  KT0001\t"), Ok("KT0001"));
        assert_eq!(clean("\r\n"), Err(CodeError::Empty));
        assert_eq!(clean("KT 0001\n"), Err(CodeError::Garbage));
    }

    fn batch_with(code: &str) -> EventBatch {
        let at = 1_760_000_000_000;
        let ev = |seq, body| Event {
            seq,
            id: uuid::Uuid::nil(),
            at,
            clock_synced: true,
            body,
        };
        EventBatch {
            v: SCHEMA_VERSION,
            device: DeviceId::new("kontum-kiosk-1").unwrap(),
            log: uuid::Uuid::nil(),
            events: vec![
                ev(
                    1,
                    EventBody::Checkout {
                        item: code.to_owned(),
                        patron: code.to_owned(),
                        due: chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap(),
                    },
                ),
                ev(
                    2,
                    EventBody::Checkin {
                        item: code.to_owned(),
                        patron: Some(code.to_owned()),
                    },
                ),
            ],
        }
    }

    proptest! {
        /// Whatever a reader accepts, central accepts in an event batch; whatever the rule
        /// refuses, central refuses too.
        #[test]
        fn the_rule_is_the_wire_rule(raw in "[ -~]{0,70}|\\PC{0,70}|[\\t\\r\\n KT0-9]{0,8}") {
            let on_wire = decode::<EventBatch>(&encode(&batch_with(&raw))).is_ok();
            prop_assert_eq!(is_valid(&raw), on_wire);
            if let Ok(code) = clean(&raw) {
                prop_assert!(decode::<EventBatch>(&encode(&batch_with(code))).is_ok());
            }
        }
    }
}
