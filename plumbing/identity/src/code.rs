//! One-time enrolment codes: `RONG-` and four groups of five Crockford base32 symbols
//! (100 random bits), easy to read aloud, to type, and to print as a QR code in its
//! compact alphanumeric mode. Central keeps only [`EnrolmentCode::hash`]; the 100 bits make
//! a plain SHA-256 enough (nothing to search offline the way a short password could be).

use rand::Rng;
use sha2::{Digest, Sha256};

/// Crockford's base32: no I, L, O or U, so a code read aloud or typed is not mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a code.
const SYMBOLS: usize = 20;
/// Symbols in a printed group.
const GROUP: usize = 5;
/// What every printed code starts with, so a scanned code is recognised as one.
pub const PREFIX: &str = "RONG-";

/// An enrolment code in its normal form (the 20 symbols, no prefix or dashes). `Debug`
/// hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode(String);

impl std::fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentCode(***)")
    }
}

impl EnrolmentCode {
    /// A new random code.
    pub fn generate() -> EnrolmentCode {
        let mut rng = rand::rngs::OsRng;
        let s = (0..SYMBOLS)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        EnrolmentCode(s)
    }

    /// Reads a code as a person typed or a scanner read it: any case, with or without the
    /// `RONG-` prefix, dashes and spaces; `O` is read as `0`, `I` and `L` as `1`.
    pub fn parse(text: &str) -> Option<EnrolmentCode> {
        let upper = text.trim().to_ascii_uppercase();
        let body = upper.strip_prefix("RONG").unwrap_or(&upper);
        let mut out = String::with_capacity(SYMBOLS);
        for c in body.chars() {
            let c = match c {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            out.push(c);
        }
        (out.len() == SYMBOLS).then_some(EnrolmentCode(out))
    }

    /// Whether `text` looks like a printed code (for a scanned barcode).
    pub fn looks_like_one(text: &str) -> bool {
        text.trim().to_ascii_uppercase().starts_with(PREFIX) && Self::parse(text).is_some()
    }

    /// The code as printed: `RONG-XXXXX-XXXXX-XXXXX-XXXXX`.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..SYMBOLS / GROUP)
            .map(|i| &self.0[i * GROUP..(i + 1) * GROUP])
            .collect();
        format!("{PREFIX}{}", groups.join("-"))
    }

    /// What central stores: hex SHA-256 of the normal form.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(format!("rong-enrolment-v1:{}", self.0).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed() {
        let c = EnrolmentCode::generate();
        let shown = c.display();
        assert!(
            shown.starts_with("RONG-") && shown.len() == 5 + 20 + 3,
            "{shown}"
        );
        assert_eq!(EnrolmentCode::parse(&shown), Some(c.clone()));
        let typed = shown.to_lowercase().replace('-', " ");
        assert_eq!(
            EnrolmentCode::parse(&typed).map(|x| x.hash()),
            Some(c.hash())
        );
        assert!(EnrolmentCode::looks_like_one(&shown));
        assert!(!EnrolmentCode::looks_like_one("9786041234567"));
        assert!(EnrolmentCode::parse("RONG-12345").is_none());
        assert!(EnrolmentCode::parse("RONG-UUUUU-00000-00000-00000").is_none());
        assert_ne!(EnrolmentCode::generate(), c);
        assert!(!format!("{c:?}").contains(&c.0));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,64}") {
            let _ = EnrolmentCode::parse(&s);
        }
    }
}
