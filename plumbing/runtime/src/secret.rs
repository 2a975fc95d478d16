//! A string that logs and `Debug` output never show.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string (a password) whose `Debug` is redacted. It reads and writes as a plain
/// string in config files.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_serde_transparent() {
        #[derive(Debug, Deserialize, Serialize)]
        struct Broker {
            password: Secret,
        }
        let b: Broker = toml::from_str("password = \"hunter2\"").unwrap();
        assert_eq!(b.password.expose(), "hunter2");
        let shown = format!("{b:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
        assert_eq!(
            toml::to_string(&b).unwrap().trim(),
            "password = \"hunter2\""
        );
    }
}
