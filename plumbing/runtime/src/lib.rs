//! What every Rông program starts with: its configuration in layers (defaults, a TOML file,
//! `RONG_*` variables; see [`config`]), logging to stderr, the shutdown signal, and
//! [`Secret`] for the values a log must never show.

pub mod config;
mod logging;
mod secret;
#[cfg(feature = "shutdown")]
mod shutdown;

pub use config::{ConfigError, Env, Layered};
pub use logging::init_logging;
pub use secret::Secret;
#[cfg(feature = "shutdown")]
pub use shutdown::shutdown_signal;
