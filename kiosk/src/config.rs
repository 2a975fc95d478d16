//! The kiosk's configuration: defaults, then a TOML file, then `RONG_KIOSK_*` variables.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rong_runtime::config::{self, Env, Layered};
pub use rong_runtime::ConfigError;
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

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        config::load(file, &Env::process())
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

/// A whole number of seconds or pixels, spaces around it allowed.
fn number<T: FromStr>(v: &str) -> Result<T, T::Err> {
    v.trim().parse()
}

impl Layered for Config {
    /// Every `RONG_KIOSK_*` variable the kiosk reads.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.set("RONG_KIOSK_SOCKET", &mut self.socket, PathBuf::from);
        env.try_set("RONG_KIOSK_INACTIVITY_S", &mut self.inactivity_s, number)?;
        env.try_set("RONG_KIOSK_WARNING_S", &mut self.warning_s, number)?;
        env.try_set("RONG_KIOSK_STATUS_POLL_S", &mut self.status_poll_s, number)?;
        env.try_set("RONG_KIOSK_WIDTH", &mut self.width, number)?;
        env.try_set("RONG_KIOSK_HEIGHT", &mut self.height, number)?;
        env.try_set("RONG_KIOSK_LANGUAGE", &mut self.language, |v| match v {
            "vi" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            _ => Err("expected vi or en"),
        })
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
        cfg.apply_env(&Env::from_fn(|k| match k {
            "RONG_KIOSK_WARNING_S" => Some(" 5 ".into()),
            "RONG_KIOSK_LANGUAGE" => Some("en".into()),
            _ => None,
        }))
        .expect("env");
        assert_eq!((cfg.warning_s, cfg.language, cfg.width), (5, Lang::En, 800));
        for (name, bad) in [
            ("RONG_KIOSK_WIDTH", "wide"),
            ("RONG_KIOSK_HEIGHT", "4294967296"),
            ("RONG_KIOSK_LANGUAGE", "fr"),
        ] {
            let err = cfg
                .apply_env(&Env::from_fn(|k| (k == name).then(|| bad.into())))
                .unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("{name}={bad}: ")),
                "{err}"
            );
        }
        assert!(toml::from_str::<Config>("colour = 1").is_err());
    }
}
