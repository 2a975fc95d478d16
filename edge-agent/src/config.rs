//! Configuration: defaults, then a TOML file, then `RONG_*` environment variables.

use std::path::{Path, PathBuf};

use rong_mqtt::BrokerUrl;
use rong_protocol::{BranchId, DeviceId};
use rong_runtime::config::{self, Env, Layered};
pub use rong_runtime::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

mod devices;
pub use devices::{DeviceKind, HardwareConfig};

/// The whole agent configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This board's id; also the MQTT client id. Once the board is enrolled, the id central
    /// gave it wins over this.
    pub device: DeviceId,
    /// The branch the board stands in (likewise overridden by the enrolment).
    pub branch: BranchId,
    /// A one-time enrolment code (`central device enrol`), used at first start only.
    pub enrolment_code: Option<Secret>,
    /// A file holding the enrolment code instead.
    pub enrolment_code_file: Option<PathBuf>,
    /// Where `agent.db` lives.
    pub data_dir: PathBuf,
    /// The local API socket; default `{data_dir}/agent.sock`.
    pub socket: Option<PathBuf>,
    /// The broker.
    pub mqtt: MqttConfig,
    /// Central's HTTP server (snapshots).
    pub central: CentralConfig,
    /// Sync tuning.
    pub sync: SyncConfig,
    /// Circulation settings.
    pub circulation: CirculationConfig,
    /// Clock settings.
    pub clock: ClockConfig,
    /// Which hardware to drive.
    pub hardware: HardwareConfig,
    /// Which remote commands are allowed.
    pub commands: CommandsConfig,
    /// Digitisation: scanning jobs and their upload.
    pub digitise: DigitiseConfig,
    /// The file this config was read from, for `reload_config`.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Broker connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port`.
    pub url: String,
    /// Optional user name.
    pub username: Option<String>,
    /// Optional password (redacted in `Debug`).
    pub password: Option<Secret>,
    /// Keep-alive in seconds.
    pub keep_alive_secs: u64,
}

/// Central's HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CentralConfig {
    /// Base URL, such as `http://127.0.0.1:8080`.
    pub url: String,
    /// The largest snapshot downloaded, bytes (compressed, as sent); a bigger one is
    /// refused before it fills the disk, and the reference data held is kept.
    pub snapshot_max_bytes: u64,
    /// Central's CA certificate (a copy of central's `{data_dir}/tls/ca.crt`), for an
    /// `https://` url before the board is enrolled; enrolment then pins the CA central
    /// answers with, in `{data_dir}/ca.crt`.
    pub ca_file: Option<PathBuf>,
}

/// Sync tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Seconds between status heartbeats.
    pub heartbeat_secs: u64,
    /// Most events in one batch message.
    pub batch_events: u32,
    /// Most unacked events in flight.
    pub window_events: u32,
    /// Seconds without ack progress before rewinding.
    pub ack_timeout_secs: u64,
    /// Days to keep acked events before pruning.
    pub retain_acked_days: u32,
}

/// The most `[circulation] offline_pin_loans` may be: a PIN nobody has checked should not
/// empty a shelf.
pub const MAX_OFFLINE_PIN_LOANS: u32 = 20;

/// Circulation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CirculationConfig {
    /// Local offset from UTC in minutes.
    pub utc_offset_minutes: i32,
    /// A session ends after this many idle seconds.
    pub session_idle_secs: u64,
    /// Loans central has not yet seen that a reader may take on a PIN central could not
    /// check (the board was offline): the PIN goes sealed to central, which checks it when
    /// the visit arrives. 0: no loans on an unchecked PIN (tap the card, or wait for the
    /// link).
    pub offline_pin_loans: u32,
    /// Whether a staff card typed (not tapped) with a PIN central could not check opens
    /// the staff menu. Off: staff tap their card while the link is down. On, for a station
    /// without a card reader whose staff must carry on offline: the PIN is still checked
    /// by central when the visit arrives, and a wrong one is flagged to staff.
    pub offline_staff_pin: bool,
}

/// Whether the system clock is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockSynced {
    /// Synced when `/run/systemd/timesync/synchronized` exists.
    #[default]
    Auto,
    /// Always say synced.
    Yes,
    /// Never say synced.
    No,
}

impl Serialize for ClockSynced {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ClockSynced::Auto => s.serialize_str("auto"),
            ClockSynced::Yes => s.serialize_bool(true),
            ClockSynced::No => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for ClockSynced {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(ClockSynced::Yes),
            Raw::Bool(false) => Ok(ClockSynced::No),
            Raw::Text(t) => ClockSynced::parse(&t).ok_or_else(|| {
                serde::de::Error::custom(format!("expected \"auto\", true or false, got {t:?}"))
            }),
        }
    }
}

impl ClockSynced {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(ClockSynced::Auto),
            "true" | "yes" => Some(ClockSynced::Yes),
            "false" | "no" => Some(ClockSynced::No),
            _ => None,
        }
    }

    /// Whether the clock counts as synced right now.
    pub fn is_synced(self) -> bool {
        match self {
            ClockSynced::Auto => Path::new("/run/systemd/timesync/synchronized").exists(),
            ClockSynced::Yes => true,
            ClockSynced::No => false,
        }
    }
}

/// Clock settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// `"auto"`, `true` or `false`.
    pub synced: ClockSynced,
}

/// Which remote commands are allowed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandsConfig {
    /// Whether the `reboot` command may reboot the board.
    pub allow_reboot: bool,
}

/// Digitisation: scanning jobs and the upload of their bags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigitiseConfig {
    /// Scanning stops when the data disk has less free space than this, MiB.
    pub min_free_mb: u64,
    /// Bytes per tus upload chunk.
    pub chunk_bytes: u64,
    /// Longest wait between upload retries, seconds (the backoff grows up to it).
    pub retry_max_secs: u64,
    /// Seconds between looks at the upload queue when nothing wakes the uploader.
    pub poll_secs: u64,
    /// JPEG quality of the access copies (1-100).
    pub access_quality: u8,
    /// Hours a job's page files stay on the station after central confirmed it safe;
    /// 0 removes them at once. The job's row and its bag's tag files stay.
    pub keep_safe_hours: u64,
}

impl Default for DigitiseConfig {
    fn default() -> Self {
        Self {
            min_free_mb: 200,
            chunk_bytes: 256 * 1024,
            retry_max_secs: 60,
            poll_secs: 30,
            access_quality: 85,
            keep_safe_hours: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            device: DeviceId::new("rong-device").expect("valid literal device id"),
            branch: BranchId::new("kontum").expect("valid literal branch id"),
            enrolment_code: None,
            enrolment_code_file: None,
            data_dir: PathBuf::from("/var/lib/rong"),
            socket: None,
            mqtt: MqttConfig::default(),
            central: CentralConfig::default(),
            sync: SyncConfig::default(),
            circulation: CirculationConfig::default(),
            clock: ClockConfig::default(),
            hardware: HardwareConfig::default(),
            commands: CommandsConfig::default(),
            digitise: DigitiseConfig::default(),
            source: None,
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: "mqtt://127.0.0.1:1883".into(),
            username: None,
            password: None,
            keep_alive_secs: 30,
        }
    }
}

impl MqttConfig {
    /// The broker [`MqttConfig::url`] names: `mqtt://host:port`, `tcp://` or `host:port`.
    pub fn broker(&self) -> Result<BrokerUrl, ConfigError> {
        BrokerUrl::parse(&self.url)
            .map_err(|e| ConfigError::Invalid(format!("mqtt.url {:?}: {e}", self.url)))
    }
}

impl Default for CentralConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            snapshot_max_bytes: 512 * 1024 * 1024,
            ca_file: None,
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            heartbeat_secs: 30,
            batch_events: rong_protocol::MAX_BATCH_EVENTS as u32,
            window_events: 1000,
            ack_timeout_secs: 10,
            retain_acked_days: 30,
        }
    }
}

impl Default for CirculationConfig {
    fn default() -> Self {
        Self {
            utc_offset_minutes: rong_protocol::time::DEFAULT_UTC_OFFSET_MIN,
            session_idle_secs: 300,
            offline_pin_loans: 3,
            offline_staff_pin: false,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, |k| std::env::var(k).ok())
    }

    /// Like [`Config::load`], reading variables through `env` (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config: Config = config::load(file, &Env::from_fn(env))?;
        config.source = file.map(Path::to_owned);
        Ok(config)
    }

    /// Parses TOML over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The local API socket path.
    pub fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| self.data_dir.join("agent.sock"))
    }

    /// The database path.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("agent.db")
    }

    /// Names the top-level settings that differ between two configs.
    pub fn diff(&self, other: &Config) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |name, same: bool| {
            if !same {
                out.push(name);
            }
        };
        check("device", self.device == other.device);
        check("branch", self.branch == other.branch);
        check("data_dir", self.data_dir == other.data_dir);
        check("socket", self.socket_path() == other.socket_path());
        check("mqtt", self.mqtt == other.mqtt);
        check("central", self.central == other.central);
        check("sync", self.sync == other.sync);
        check("circulation", self.circulation == other.circulation);
        check("clock", self.clock == other.clock);
        check("digitise", self.digitise == other.digitise);
        check("hardware", self.hardware == other.hardware);
        check("commands", self.commands == other.commands);
        out
    }
}

impl Layered for Config {
    /// Every `RONG_*` variable the agent reads.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        env.parse("RONG_DEVICE", &mut self.device)?;
        env.parse("RONG_BRANCH", &mut self.branch)?;
        env.set("RONG_ENROLMENT_CODE", &mut self.enrolment_code, |v| {
            Some(Secret(v))
        });
        env.set("RONG_DATA_DIR", &mut self.data_dir, PathBuf::from);
        env.set("RONG_SOCKET", &mut self.socket, |v| Some(PathBuf::from(v)));
        env.set("RONG_MQTT_URL", &mut self.mqtt.url, |v| v);
        env.set("RONG_MQTT_USERNAME", &mut self.mqtt.username, Some);
        env.set("RONG_MQTT_PASSWORD", &mut self.mqtt.password, |v| {
            Some(Secret(v))
        });
        env.set("RONG_CENTRAL_URL", &mut self.central.url, |v| v);
        env.set("RONG_CENTRAL_CA_FILE", &mut self.central.ca_file, |v| {
            (!v.is_empty()).then(|| PathBuf::from(v))
        });
        env.parse("RONG_HEARTBEAT_SECS", &mut self.sync.heartbeat_secs)?;
        let d = &mut self.digitise;
        env.parse("RONG_DIGITISE_MIN_FREE_MB", &mut d.min_free_mb)?;
        env.parse("RONG_DIGITISE_CHUNK_BYTES", &mut d.chunk_bytes)?;
        env.parse("RONG_DIGITISE_RETRY_MAX_SECS", &mut d.retry_max_secs)?;
        env.parse("RONG_DIGITISE_POLL_SECS", &mut d.poll_secs)?;
        env.parse("RONG_DIGITISE_KEEP_SAFE_HOURS", &mut d.keep_safe_hours)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let s = &self.sync;
        if s.batch_events == 0 || s.batch_events as usize > rong_protocol::MAX_BATCH_EVENTS {
            return Err(ConfigError::Invalid(format!(
                "sync.batch_events must be 1 to {}",
                rong_protocol::MAX_BATCH_EVENTS
            )));
        }
        if s.window_events < s.batch_events {
            return Err(ConfigError::Invalid(
                "sync.window_events must be at least sync.batch_events".into(),
            ));
        }
        if s.heartbeat_secs == 0 || s.ack_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "sync.heartbeat_secs and sync.ack_timeout_secs must be positive".into(),
            ));
        }
        if self.circulation.offline_pin_loans > MAX_OFFLINE_PIN_LOANS {
            return Err(ConfigError::Invalid(format!(
                "circulation.offline_pin_loans must be at most {MAX_OFFLINE_PIN_LOANS}"
            )));
        }
        let d = &self.digitise;
        if d.chunk_bytes == 0 || d.chunk_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "digitise.chunk_bytes must be 1 byte to 64 MiB".into(),
            ));
        }
        if d.retry_max_secs == 0 || d.poll_secs == 0 {
            return Err(ConfigError::Invalid(
                "digitise.retry_max_secs and digitise.poll_secs must be positive".into(),
            ));
        }
        if d.keep_safe_hours > 24 * 365 * 10 {
            return Err(ConfigError::Invalid(
                "digitise.keep_safe_hours must be at most ten years".into(),
            ));
        }
        if !(1..=100).contains(&d.access_quality) {
            return Err(ConfigError::Invalid(
                "digitise.access_quality must be 1 to 100".into(),
            ));
        }
        self.mqtt.broker()?;
        self.hardware.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            r#"
device = "dakto-kiosk-1"
branch = "dakto"
data_dir = "/tmp/rong"
[mqtt]
url = "mqtt://broker:1884"
password = "hunter2"
[sync]
heartbeat_secs = 5
[clock]
synced = true
[hardware]
barcode = "sim"
"#,
        )
        .unwrap();
        let c = Config::load_with_env(
            Some(&path),
            env(&[("RONG_BRANCH", "kontum"), ("RONG_HEARTBEAT_SECS", "7")]),
        )
        .unwrap();
        assert_eq!(c.device.as_str(), "dakto-kiosk-1");
        assert_eq!(c.branch.as_str(), "kontum", "env beats file");
        assert_eq!(c.sync.heartbeat_secs, 7, "env beats file");
        assert_eq!(c.sync.batch_events, 200, "default kept");
        assert_eq!(c.clock.synced, ClockSynced::Yes);
        assert_eq!(c.hardware.barcode, DeviceKind::Sim);
        assert_eq!(c.hardware.card, DeviceKind::None);
        assert_eq!(c.socket_path(), PathBuf::from("/tmp/rong/agent.sock"));
        assert_eq!(c.source.as_deref(), Some(path.as_path()));
        assert_eq!(
            c.mqtt.broker().unwrap(),
            rong_mqtt::BrokerUrl::new("broker", 1884)
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn defaults_alone() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.sync.window_events, 1000);
        assert_eq!(c.circulation.utc_offset_minutes, 420);
        assert_eq!(c.clock.synced, ClockSynced::Auto);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            Config::load_with_env(None, env(&[("RONG_DEVICE", "Bad Id")])),
            Err(ConfigError::Env { .. })
        ));
        assert!(matches!(
            Config::load_with_env(None, env(&[("RONG_HEARTBEAT_SECS", "soon")])),
            Err(ConfigError::Env { .. })
        ));
        for url in [
            "http://x",
            "ws://x:8883",
            "mqtt://x:port",
            "mqtt://",
            "mqtt//x:1",
        ] {
            assert!(
                matches!(
                    Config::load_with_env(None, env(&[("RONG_MQTT_URL", url)])),
                    Err(ConfigError::Invalid(_))
                ),
                "{url}"
            );
        }
        assert!(Config::from_toml("nonsense = 1").is_err());
        assert!(Config::from_toml("[clock]\nsynced = \"maybe\"").is_err());
        assert_eq!(
            Config::from_toml("[clock]\nsynced = \"auto\"")
                .unwrap()
                .clock
                .synced,
            ClockSynced::Auto
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Config::load_with_env(Some(&dir.path().join("missing.toml")), env(&[])),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn diff_names_changes() {
        let a = Config::default();
        let mut b = a.clone();
        b.sync.heartbeat_secs = 1;
        b.hardware.card = DeviceKind::Sim;
        assert_eq!(a.diff(&b), vec!["sync", "hardware"]);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../agent.example.toml");
        let c = Config::from_toml(text).unwrap();
        assert_eq!(c.device.as_str(), "kontum-kiosk-1");
        assert_eq!(c.sync.window_events, 1000);
    }
}
