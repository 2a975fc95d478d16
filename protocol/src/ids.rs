//! Branch and device ids: short lowercase slugs that are safe in MQTT topics and paths.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id was empty or longer than [`MAX_ID_LEN`].
    #[error("id must be 1 to {MAX_ID_LEN} characters long, got {0}")]
    Length(usize),
    /// The id held a character outside `a-z`, `0-9` and `-`, or began or ended with `-`.
    #[error("id {0:?} may use only a-z, 0-9 and inner '-'")]
    Charset(String),
}

/// The longest branch or device id.
pub const MAX_ID_LEN: usize = 48;

fn check_slug(s: &str) -> Result<(), IdError> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(IdError::Length(s.len()));
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(IdError::Charset(s.to_owned()))
    }
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps an id.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_slug(&s)?;
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// A library site, such as `kontum` (the provincial library) or `dakto`.
    BranchId
);
slug_id!(
    /// One board, such as `dakto-kiosk-1`. Each belongs to one branch.
    DeviceId
);

/// Normalises an NFC card UID to upper-case hex without separators (`04:a1:b2:c3` →
/// `04A1B2C3`). ISO 14443A UIDs are 4, 7 or 10 bytes; anything that is not 4 to 10 whole
/// bytes of hex is refused.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(BranchId::new("kontum").is_ok());
        assert!(DeviceId::new("dakto-kiosk-1").is_ok());
        assert_eq!(BranchId::new(""), Err(IdError::Length(0)));
        assert!(matches!(BranchId::new("Kon Tum"), Err(IdError::Charset(_))));
        assert!(matches!(DeviceId::new("a/b"), Err(IdError::Charset(_))));
        assert!(matches!(DeviceId::new("+"), Err(IdError::Charset(_))));
        assert!(matches!(DeviceId::new("-a"), Err(IdError::Charset(_))));
        assert!(serde_json::from_str::<DeviceId>("\"#\"").is_err());
    }

    #[test]
    fn uids() {
        assert_eq!(normalise_uid("04:a1:b2:c3").as_deref(), Some("04A1B2C3"));
        assert_eq!(
            normalise_uid("04-A1-B2-C3-D4-E5-F6").as_deref(),
            Some("04A1B2C3D4E5F6")
        );
        assert!(normalise_uid("04A1B2").is_none());
        assert!(normalise_uid("04A1B2C").is_none());
        assert!(normalise_uid("ZZA1B2C3").is_none());
        assert!(normalise_uid("").is_none());
    }
}
