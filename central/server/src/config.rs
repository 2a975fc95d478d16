//! Configuration: defaults, then a TOML file, then `RONG_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use central_catalogue::config::{HoldingsCodes, HoldingsConfig, ImportConfig};
pub use central_web::config::{AlertsConfig, DashboardConfig};
use rong_runtime::config::{self, Env, Layered};
pub use rong_runtime::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

/// Central's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory of the database (`central.db`).
    pub data_dir: PathBuf,
    /// HTTP server.
    pub http: HttpConfig,
    /// MQTT broker.
    pub broker: BrokerConfig,
    /// Event ingest.
    pub ingest: IngestConfig,
    /// The library's offset from UTC in minutes (Việt Nam: 420).
    pub utc_offset_minutes: i32,
    /// `central import marc`.
    pub import: ImportConfig,
    /// The library's name, shown at the top of the public catalogue.
    pub library_name: String,
    /// The fleet dashboard (`/admin`).
    pub dashboard: DashboardConfig,
    /// Fleet alert thresholds.
    pub alerts: AlertsConfig,
    /// Digitisation uploads (tus) from the scanning stations.
    pub uploads: UploadsConfig,
    /// Processing of digitised documents (OCR, IIIF).
    pub digitise: DigitiseConfig,
    /// Scheduled backups of the database.
    pub backup: BackupConfig,
    /// HTTPS and MQTT over TLS, and central's certificate authority.
    pub tls: crate::tls::TlsConfig,
    /// PINs checked by central for the boards.
    pub pins: PinsConfig,
}

/// `[pins]`: the lockout central applies when it checks a PIN for a board, online or when
/// a PIN typed offline arrives sealed with its visit. The boards count nothing themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinsConfig {
    /// Wrong PINs, on any devices, before a card is locked.
    pub max_attempts: u32,
    /// How long it stays locked, minutes.
    pub lock_minutes: u32,
}

impl Default for PinsConfig {
    fn default() -> Self {
        PinsConfig {
            max_attempts: 5,
            lock_minutes: 60,
        }
    }
}

/// `[backup]`: backups `central serve` takes by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Where scheduled backups go; unset: none are taken.
    pub dir: Option<PathBuf>,
    /// Hours between backups (fractions allowed), counted from the newest one in `dir`.
    pub every_hours: f64,
    /// A daily local time `HH:MM` (by `utc_offset_minutes`) instead of `every_hours`.
    pub at: Option<String>,
    /// How many scheduled backups to keep; older ones are deleted.
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: None,
            every_hours: 24.0,
            at: None,
            keep: 7,
        }
    }
}

impl BackupConfig {
    /// The `at` time as (hour, minute), if set and valid.
    pub fn at_time(&self) -> Result<Option<(u32, u32)>, String> {
        let Some(at) = &self.at else { return Ok(None) };
        let bad = || format!("backup.at / RONG_BACKUP_AT {at:?}: expected HH:MM");
        let (h, m) = at.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Some((h, m)))
    }
}

/// Limits of the tus upload endpoint (`/files/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// The largest file a station may upload, bytes (`Tus-Max-Size`).
    pub max_file_bytes: u64,
    /// The largest `PATCH` body, bytes; a bigger chunk gets `413`.
    pub max_chunk_bytes: usize,
    /// An upload that receives no chunk for this many hours expires (`410`, then deleted
    /// with its bytes; the station starts that file again). 0: uploads never expire.
    pub expire_hours: u64,
    /// The most bytes of uploads one device may hold at central (counted at creation from
    /// `Upload-Length`; `413` beyond). 0: no quota.
    pub device_quota_bytes: u64,
    /// Bytes central's disk keeps free: an upload that would eat into them gets `507`.
    pub min_free_bytes: u64,
}

impl UploadsConfig {
    /// How long an untouched upload lives (`None`: for ever).
    pub fn expire_after(&self) -> Option<std::time::Duration> {
        (self.expire_hours > 0)
            .then(|| std::time::Duration::from_secs(self.expire_hours.saturating_mul(3600)))
    }
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig {
            max_file_bytes: 2 * 1024 * 1024 * 1024,
            max_chunk_bytes: 4 * 1024 * 1024,
            expire_hours: 72,
            device_quota_bytes: 20 * 1024 * 1024 * 1024,
            min_free_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// `[digitise]`: processing of digitised documents at central.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigitiseConfig {
    /// OCR worker threads (each runs one tesseract at a time).
    pub ocr_workers: usize,
    /// Tesseract language(s).
    pub ocr_lang: String,
    /// Attempts per page before it is marked failed.
    pub ocr_max_attempts: u32,
    /// Central's public base URL for IIIF ids (e.g. `https://thuvien.kontum.gov.vn`);
    /// unset: built from each request's `Host`.
    pub public_url: Option<String>,
    /// Central is behind a reverse proxy that sets `X-Forwarded-Proto`/`-Host`: trust
    /// them when `public_url` is unset (never otherwise).
    pub trust_forwarded: bool,
    /// The largest uploaded master central decodes.
    pub image_limits: central_digitise::images::ImageLimits,
}

impl Default for DigitiseConfig {
    fn default() -> Self {
        DigitiseConfig {
            ocr_workers: 1,
            ocr_lang: "vie".into(),
            ocr_max_attempts: 3,
            public_url: None,
            trust_forwarded: false,
            image_limits: Default::default(),
        }
    }
}

/// HTTP settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Body size, time and concurrency limits of every request.
    pub limits: crate::http::limits::HttpLimits,
    /// A file holding the operator token for `/metrics` and the OpenAPI document (its
    /// first line). Unset: those answer loopback peers only (behind a reverse proxy on
    /// the same host every request is loopback: set a token there).
    pub operator_token_file: Option<PathBuf>,
    /// Public routes: requests a second per client address, once its burst is spent.
    pub public_per_second: f64,
    /// Public routes: requests a client address may make at once.
    pub public_burst: u32,
    /// Public routes: at most this many client addresses are tracked at once.
    pub public_max_clients: usize,
    /// Serve plain HTTP on an address other than loopback. Without `tls.enabled`,
    /// `central serve` refuses such an address unless this is set, on a network the library
    /// trusts (or behind a TLS reverse proxy on the same host).
    pub plain_off_loopback: bool,
}

impl HttpConfig {
    /// The operator token from [`HttpConfig::operator_token_file`], if one is set.
    pub fn operator_token(&self) -> Result<Option<Secret>, ConfigError> {
        let Some(path) = &self.operator_token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!("http.operator_token_file {}: {e}", path.display()))
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_owned();
        if token.len() < 16 {
            return Err(ConfigError::Invalid(format!(
                "http.operator_token_file {}: the token must have at least 16 characters",
                path.display()
            )));
        }
        Ok(Some(Secret(token)))
    }
}

/// Broker settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// Where the embedded broker listens; port 0 picks a free port.
    pub listen: SocketAddr,
    /// An external broker such as `mqtt://127.0.0.1:1883`; when set, none is embedded.
    pub external_url: Option<String>,
    /// User name for the external broker.
    pub username: Option<String>,
    /// Password for the external broker.
    pub password: Option<Secret>,
    /// Let the embedded broker listen in clear on an address other than loopback. Without
    /// `tls.enabled` it has no TLS and no client certificates (every message is signed, but
    /// anyone reaching it could read them), so `central serve` refuses such an address
    /// unless this is set, on a network the library trusts.
    pub plain_off_loopback: bool,
    /// The external broker's ACL file (Mosquitto's `acl_file`): central writes it (as
    /// `central device acl` prints it) at start and after every enrolment and revocation,
    /// so a revoked board loses its topics at once. Unset: central leaves it alone.
    pub acl_file: Option<PathBuf>,
    /// The command run after the ACL file is written, so the broker reloads it, such as
    /// `systemctl reload mosquitto` (split on spaces; no shell).
    pub acl_reload: Option<String>,
}

/// Ingest settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// No longer used: devices are enrolled (`central device enrol`), and events from a
    /// device that is not go to the quarantine. Kept so older configs still load.
    pub auto_register_devices: bool,
    /// A catch-up missing more changes than this gets `snapshot_required`.
    pub max_catchup_ops: u64,
}

impl Config {
    /// Refuses to serve in clear off loopback (see `plain_off_loopback`): the HTTP side
    /// always, the broker when it is embedded. With `tls.enabled` both are TLS, and the
    /// broker asks every client for a certificate from central's CA.
    pub fn check_listening(&self) -> Result<(), ConfigError> {
        if self.tls.enabled {
            return Ok(());
        }
        let off = |a: &SocketAddr| !a.ip().is_loopback();
        if off(&self.http.listen) && !self.http.plain_off_loopback {
            return Err(ConfigError::Invalid(format!(
                "http.listen {} is not a loopback address, and TLS is off: staff logins and \
                 device traffic would cross the network in clear. Set tls.enabled = true \
                 (RONG_TLS=true) with tls.names, or listen on 127.0.0.1 behind a TLS reverse \
                 proxy on this host, or, on a network the library trusts, set \
                 http.plain_off_loopback = true",
                self.http.listen
            )));
        }
        if self.broker.external_url.is_none()
            && off(&self.broker.listen)
            && !self.broker.plain_off_loopback
        {
            return Err(ConfigError::Invalid(format!(
                "broker.listen {} is not a loopback address, and TLS is off: anyone who \
                 reaches the embedded broker could read every message. Set tls.enabled = true \
                 (RONG_TLS=true), or use Mosquitto with TLS (images/mosquitto/, \
                 broker.external_url), or, on a network the library trusts, set \
                 broker.plain_off_loopback = true",
                self.broker.listen
            )));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            broker: BrokerConfig::default(),
            ingest: IngestConfig::default(),
            utc_offset_minutes: rong_protocol::time::DEFAULT_UTC_OFFSET_MIN,
            import: ImportConfig::default(),
            library_name: "Thư viện tỉnh Kon Tum".into(),
            dashboard: DashboardConfig::default(),
            alerts: AlertsConfig::default(),
            uploads: UploadsConfig::default(),
            digitise: DigitiseConfig::default(),
            backup: BackupConfig::default(),
            tls: crate::tls::TlsConfig::default(),
            pins: PinsConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: Default::default(),
            operator_token_file: None,
            // A page of the viewer fetches a few dozen tiles at once.
            public_per_second: 20.0,
            public_burst: 200,
            public_max_clients: 10_000,
            plain_off_loopback: false,
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            external_url: None,
            username: None,
            password: None,
            plain_off_loopback: false,
            acl_file: None,
            acl_reload: None,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            auto_register_devices: false,
            max_catchup_ops: 20_000,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        config::load(file, &Env::process())
    }

    /// Like [`Config::load`] with an injectable environment.
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        config::load(file, &Env::from_fn(env))
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("central.db")
    }

    /// Central's Ed25519 key.
    pub fn central_key_path(&self) -> PathBuf {
        self.data_dir.join("central.key")
    }
}

/// An empty value clears an optional setting.
fn unless_empty(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

impl Layered for Config {
    /// Every `RONG_*` variable central reads.
    fn apply_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let Config {
            data_dir,
            http,
            broker,
            ingest,
            utc_offset_minutes,
            import,
            library_name,
            dashboard,
            alerts,
            uploads,
            digitise,
            backup,
            tls,
            pins: _,
        } = self;
        env.set("RONG_DATA_DIR", data_dir, PathBuf::from);
        env.parse("RONG_UPLOADS_MAX_FILE_BYTES", &mut uploads.max_file_bytes)?;
        env.parse("RONG_UPLOADS_MAX_CHUNK_BYTES", &mut uploads.max_chunk_bytes)?;
        env.set("RONG_DIGITISE_PUBLIC_URL", &mut digitise.public_url, Some);
        env.parse("RONG_UPLOADS_EXPIRE_HOURS", &mut uploads.expire_hours)?;
        env.parse(
            "RONG_UPLOADS_DEVICE_QUOTA_BYTES",
            &mut uploads.device_quota_bytes,
        )?;
        env.parse("RONG_UPLOADS_MIN_FREE_BYTES", &mut uploads.min_free_bytes)?;
        env.parse("RONG_HTTP_LISTEN", &mut http.listen)?;
        let token_file = &mut http.operator_token_file;
        env.set("RONG_OPERATOR_TOKEN_FILE", token_file, |v| {
            unless_empty(v).map(PathBuf::from)
        });
        env.parse("RONG_MQTT_LISTEN", &mut broker.listen)?;
        env.set("RONG_MQTT_URL", &mut broker.external_url, unless_empty);
        env.set("RONG_MQTT_USERNAME", &mut broker.username, Some);
        env.set("RONG_MQTT_PASSWORD", &mut broker.password, |v| {
            Some(Secret(v))
        });
        env.set("RONG_BROKER_ACL_FILE", &mut broker.acl_file, |v| {
            unless_empty(v).map(PathBuf::from)
        });
        env.set(
            "RONG_BROKER_ACL_RELOAD",
            &mut broker.acl_reload,
            unless_empty,
        );
        env.parse("RONG_MAX_CATCHUP_OPS", &mut ingest.max_catchup_ops)?;
        let auto_register = &mut ingest.auto_register_devices;
        env.parse("RONG_AUTO_REGISTER_DEVICES", auto_register)?;
        env.parse("RONG_OCR_WORKERS", &mut digitise.ocr_workers)?;
        env.set("RONG_LIBRARY_NAME", library_name, |v| v);
        env.parse("RONG_UTC_OFFSET_MINUTES", utc_offset_minutes)?;
        let default_branch = &mut import.default_branch;
        env.set("RONG_IMPORT_DEFAULT_BRANCH", default_branch, unless_empty);
        env.parse("RONG_DASHBOARD_SECURE_COOKIE", &mut dashboard.secure_cookie)?;
        env.set("RONG_BACKUP_DIR", &mut backup.dir, |v| {
            unless_empty(v).map(PathBuf::from)
        });
        env.parse("RONG_BACKUP_EVERY_HOURS", &mut backup.every_hours)?;
        env.set("RONG_BACKUP_AT", &mut backup.at, unless_empty);
        env.parse("RONG_BACKUP_KEEP", &mut backup.keep)?;
        env.parse("RONG_TLS", &mut tls.enabled)?;
        env.set("RONG_TLS_NAMES", &mut tls.names, |v| {
            v.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        });
        env.parse("RONG_ALERTS_OFFLINE_MINUTES", &mut alerts.offline_minutes)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.dashboard.heartbeat_secs == 0
            || self.alerts.check_secs == 0
            || self.dashboard.session_secs == 0
        {
            return Err(ConfigError::Invalid(
                "dashboard.heartbeat_secs, dashboard.session_secs and alerts.check_secs \
                 must be at least 1"
                    .into(),
            ));
        }
        // Below a second a schedule would only spin; a backup can take longer than that.
        let every = self.backup.every_hours;
        if !every.is_finite() || every < 1.0 / 3600.0 || self.backup.keep == 0 {
            return Err(ConfigError::Invalid(
                "backup.every_hours must be a number of at least 1/3600 (one second) and \
                 backup.keep at least 1"
                    .into(),
            ));
        }
        self.backup.at_time().map_err(ConfigError::Invalid)?;
        if self.pins.max_attempts == 0 || self.pins.lock_minutes == 0 {
            return Err(ConfigError::Invalid(
                "pins.max_attempts and pins.lock_minutes must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.broker.external_url {
            rong_mqtt::BrokerUrl::parse(url).map_err(|reason| {
                ConfigError::Invalid(format!(
                    "broker.external_url / RONG_MQTT_URL {url:?}: {reason}"
                ))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn serving_in_clear_off_loopback_needs_saying_so() {
        let mut c = Config::default();
        assert!(c.check_listening().is_ok(), "loopback by default");
        c.http.listen = "0.0.0.0:8080".parse().unwrap();
        let e = c.check_listening().unwrap_err().to_string();
        assert!(
            e.contains("http.listen 0.0.0.0:8080") && e.contains("plain_off_loopback"),
            "{e}"
        );
        c.http.plain_off_loopback = true;
        assert!(c.check_listening().is_ok());
        c.broker.listen = "192.0.2.10:1883".parse().unwrap();
        let e = c.check_listening().unwrap_err().to_string();
        assert!(e.contains("broker.listen 192.0.2.10:1883"), "{e}");
        // An external broker: the embedded one's address does not matter.
        c.broker.external_url = Some("mqtt://127.0.0.1:1883".into());
        assert!(c.check_listening().is_ok());
        c.broker.external_url = None;
        c.broker.plain_off_loopback = true;
        assert!(c.check_listening().is_ok());
        c.http.listen = "[::1]:8080".parse().unwrap();
        c.http.plain_off_loopback = false;
        assert!(c.check_listening().is_ok(), "IPv6 loopback");
        // TLS: both may listen anywhere.
        let mut c = Config::default();
        c.http.listen = "0.0.0.0:8443".parse().unwrap();
        c.broker.listen = "0.0.0.0:8883".parse().unwrap();
        assert!(c.check_listening().is_err());
        c.tls.enabled = true;
        assert!(c.check_listening().is_ok());
    }

    #[test]
    fn layering_defaults_file_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/rong\"\n[http]\nlisten = \"127.0.0.1:9000\"\n[ingest]\nmax_catchup_ops = 5\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let c = Config::load_with(Some(&path), none).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/rong"));
        assert_eq!(c.http.listen.port(), 9000);
        assert_eq!(c.ingest.max_catchup_ops, 5);
        assert!(!c.ingest.auto_register_devices, "default kept");
        assert_eq!(c.broker.listen.port(), 1883, "default kept");
        assert_eq!(c.utc_offset_minutes, 420);

        let env: HashMap<&str, &str> = [
            ("RONG_DATA_DIR", "/tmp/x"),
            ("RONG_HTTP_LISTEN", "127.0.0.1:0"),
            ("RONG_MQTT_URL", "mqtt://10.0.0.1:1884"),
            ("RONG_MAX_CATCHUP_OPS", "77"),
            ("RONG_MQTT_PASSWORD", "hunter2"),
        ]
        .into_iter()
        .collect();
        let c = Config::load_with(Some(&path), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.http.listen.port(), 0);
        assert_eq!(
            c.broker.external_url.as_deref(),
            Some("mqtt://10.0.0.1:1884")
        );
        assert_eq!(c.ingest.max_catchup_ops, 77);
        assert!(!format!("{c:?}").contains("hunter2"), "password redacted");
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |k: &str| (k == "RONG_HTTP_LISTEN").then(|| "nope".to_string());
        assert!(Config::load_with(None, bad).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "no_such_key = 1\n").unwrap();
        let err = Config::load_with(Some(&path), |_| None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}:1:1: unknown field", path.display())),
            "{err}"
        );
        assert!(
            Config::load_with(None, |k| (k == "RONG_MQTT_URL").then(|| "ws://x:1".into())).is_err()
        );
    }

    #[test]
    fn the_external_broker_url_is_checked() {
        let with = |url: &'static str| {
            Config::load_with(None, move |k| (k == "RONG_MQTT_URL").then(|| url.into()))
        };
        for good in ["mqtt://10.0.0.1:1884", "tcp://broker", "localhost:1"] {
            assert!(with(good).is_ok(), "{good}");
        }
        let err = with("mqtt://:1").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{err:?}");
        assert!(
            with("").unwrap().broker.external_url.is_none(),
            "empty: embedded"
        );
    }

    #[test]
    fn backup_settings_layer_and_are_checked() {
        let c = Config::load_with(None, |_| None).unwrap();
        assert_eq!(c.backup, BackupConfig::default());
        assert_eq!(c.backup.dir, None, "no scheduled backups unless asked");
        let env: HashMap<&str, &str> = [
            ("RONG_BACKUP_DIR", "/srv/backups"),
            ("RONG_BACKUP_EVERY_HOURS", "0.5"),
            ("RONG_BACKUP_AT", "02:30"),
            ("RONG_BACKUP_KEEP", "3"),
        ]
        .into_iter()
        .collect();
        let c = Config::load_with(None, |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.backup.dir, Some(PathBuf::from("/srv/backups")));
        assert_eq!(c.backup.every_hours, 0.5);
        assert_eq!(c.backup.at_time(), Ok(Some((2, 30))));
        assert_eq!(c.backup.keep, 3);
        for (k, v) in [
            ("RONG_BACKUP_AT", "25:00"),
            ("RONG_BACKUP_AT", "2h30"),
            ("RONG_BACKUP_EVERY_HOURS", "0"),
            ("RONG_BACKUP_EVERY_HOURS", "NaN"),
            ("RONG_BACKUP_EVERY_HOURS", "inf"),
            ("RONG_BACKUP_KEEP", "0"),
        ] {
            let got = Config::load_with(None, |name| (name == k).then(|| v.to_owned()));
            assert!(got.is_err(), "{k}={v} accepted");
        }
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../central.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c.http.listen, Config::default().http.listen);
        assert_eq!(c.import, Config::default().import);
        assert_eq!(c.uploads, Config::default().uploads);
        assert_eq!(c.digitise, Config::default().digitise);
        assert_eq!(c.backup, Config::default().backup);
        assert_eq!(c.pins, Config::default().pins);
        assert_eq!(c.tls, Config::default().tls);
    }

    #[test]
    fn holdings_mapping_defaults_and_overrides() {
        let koha = HoldingsConfig::default().codes().unwrap();
        assert_eq!(
            (
                koha.tag,
                koha.barcode,
                koha.home_branch,
                koha.item_type,
                koha.call_number
            ),
            (*b"952", b'p', b'a', Some(b'y'), b'o')
        );
        let c: Config =
            toml::from_str("[import.holdings]\ntag = \"852\"\nbarcode = \"x\"\n").unwrap();
        let h = c.import.holdings.codes().unwrap();
        assert_eq!(
            (h.tag, h.barcode, h.home_branch, h.item_type, h.call_number),
            (*b"852", b'x', b'b', None, b'h')
        );
        let bad = HoldingsConfig {
            tag: "999".into(),
            ..HoldingsConfig::default()
        };
        assert!(bad.codes().is_err());
    }
}
