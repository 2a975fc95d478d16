//! The Rông edge-agent: the daemon on every kiosk and scanning station.
//!
//! It keeps a SQLite cache of reference data and an append-only event log, decides
//! circulation offline (by the rules in `rong_lending`), syncs with central over MQTT ([`sync`] decides,
//! [`mqtt`] carries it out), and serves a JSON-lines local API on a Unix socket ([`api`]).
//! Start it with [`run::run`].

pub mod agent;
pub mod api;
pub mod circulation;
pub mod cli;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod digitise;
pub mod hardware;
pub mod host;
pub mod mqtt;
pub mod run;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod sync;
#[cfg(test)]
mod testkit;

pub use config::Config;
pub use run::{run, run_with_ready};
