//! The `[dashboard]` and `[alerts]` sections of central's configuration.

use serde::{Deserialize, Serialize};

/// Dashboard settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// How long a login lasts, in seconds.
    pub session_secs: u64,
    /// The devices' heartbeat interval in seconds; a device silent for two is `stale`.
    pub heartbeat_secs: u64,
    /// Failed logins allowed per account, and per IP address, within `login_window_secs`.
    pub login_max_failures: u32,
    /// The window of the login rate limit, in seconds.
    pub login_window_secs: u64,
    /// How many password hashes central verifies at once; more logins queue.
    pub password_hash_concurrency: usize,
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookie: bool,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            session_secs: 12 * 3600,
            heartbeat_secs: 30,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            password_hash_concurrency: 2,
            secure_cookie: false,
        }
    }
}

/// Alert thresholds; alerts are re-evaluated every `check_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// A device offline (or stale) for longer than this many minutes raises an alert.
    pub offline_minutes: u64,
    /// An unsynced event older than this many hours raises an alert.
    pub unsynced_hours: u64,
    /// Less free disk than this many MiB raises an alert.
    pub low_disk_mb: u64,
    /// Hardware reported `missing` raises an alert.
    pub hardware_missing: bool,
    /// How often to evaluate, in seconds.
    pub check_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            offline_minutes: 15,
            unsynced_hours: 24,
            low_disk_mb: 500,
            hardware_missing: true,
            check_secs: 15,
        }
    }
}
