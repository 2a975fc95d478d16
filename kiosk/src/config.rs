//! The kiosk's configuration: defaults, then a TOML file, then `RONG_KIOSK_*` variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The interface languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Tiếng Việt, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The gettext language code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// Everything the kiosk can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The edge-agent's local API socket.
    pub socket: PathBuf,
    /// Seconds without a touch or scan before the "are you still there?" warning.
    pub inactivity_s: u64,
    /// Seconds the warning counts down before the reader is logged out.
    pub warning_s: u64,
    /// Seconds between status polls (online/offline sign).
    pub status_poll_s: u64,
    /// Window width in pixels (the screen size on a Pi).
    pub width: u32,
    /// Window height in pixels.
    pub height: u32,
    /// The language a new reader starts in.
    pub language: Lang,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            socket: PathBuf::from("/run/rong/agent.sock"),
            inactivity_s: 60,
            warning_s: 15,
            status_poll_s: 10,
            width: 1280,
            height: 800,
            language: Lang::Vi,
        }
    }
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this config.
    #[error("bad config {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// An environment variable has a bad value.
    #[error("bad value for {name}: {value:?}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Applies `RONG_KIOSK_*` overrides read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num(name: &str, v: String) -> Result<u64, ConfigError> {
            v.trim().parse().map_err(|_| ConfigError::Env {
                name: name.to_owned(),
                value: v,
            })
        }
        if let Some(v) = get("RONG_KIOSK_SOCKET") {
            self.socket = PathBuf::from(v);
        }
        for (name, slot) in [
            ("RONG_KIOSK_INACTIVITY_S", &mut self.inactivity_s),
            ("RONG_KIOSK_WARNING_S", &mut self.warning_s),
            ("RONG_KIOSK_STATUS_POLL_S", &mut self.status_poll_s),
        ] {
            if let Some(v) = get(name) {
                *slot = num(name, v)?;
            }
        }
        for (name, slot) in [
            ("RONG_KIOSK_WIDTH", &mut self.width),
            ("RONG_KIOSK_HEIGHT", &mut self.height),
        ] {
            if let Some(v) = get(name) {
                *slot = u32::try_from(num(name, v.clone())?).map_err(|_| ConfigError::Env {
                    name: name.to_owned(),
                    value: v,
                })?;
            }
        }
        if let Some(v) = get("RONG_KIOSK_LANGUAGE") {
            self.language = match v.as_str() {
                "vi" => Lang::Vi,
                "en" => Lang::En,
                _ => {
                    return Err(ConfigError::Env {
                        name: "RONG_KIOSK_LANGUAGE".into(),
                        value: v,
                    })
                }
            };
        }
        Ok(())
    }

    /// The timeouts the state machine uses.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            inactivity: Duration::from_secs(self.inactivity_s),
            warning: Duration::from_secs(self.warning_s),
            status_poll: Duration::from_secs(self.status_poll_s.max(1)),
        }
    }
}

/// The timings of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Idle time before the warning.
    pub inactivity: Duration,
    /// Length of the warning countdown.
    pub warning: Duration,
    /// Time between status polls.
    pub status_poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Config::default().timeouts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let mut cfg: Config =
            toml::from_str("inactivity_s = 30\nwidth = 800\nheight = 480\n").expect("parse");
        assert_eq!(cfg.inactivity_s, 30);
        assert_eq!(cfg.warning_s, 15);
        cfg.apply_env(|k| match k {
            "RONG_KIOSK_WARNING_S" => Some("5".into()),
            "RONG_KIOSK_LANGUAGE" => Some("en".into()),
            _ => None,
        })
        .expect("env");
        assert_eq!((cfg.warning_s, cfg.language, cfg.width), (5, Lang::En, 800));
        assert!(cfg
            .apply_env(|k| (k == "RONG_KIOSK_WIDTH").then(|| "wide".into()))
            .is_err());
        assert!(toml::from_str::<Config>("colour = 1").is_err());
    }
}
