//! The Rông edge-agent: the daemon on every kiosk and scanning station.
//!
//! It keeps a SQLite cache of reference data and an append-only event log ([`store`]), and
//! runs services that each own their state and are handed what they need:
//! [`circulation`] decides loans offline by the rules in `rong_lending`; [`digitise`]
//! scans, packages and uploads documents; [`status`] reports on the agent. It syncs with
//! central over MQTT ([`sync`] decides, [`mqtt`] carries it out, [`snapshot`] loads
//! reference data), and serves a JSON-lines local API on a Unix socket, where [`api`]
//! routes each request to its service. [`run::Services`] builds and wires them; start the
//! agent with [`run::run`].

pub mod api;
pub mod circulation;
pub mod cli;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod digitise;
pub mod hardware;
pub mod host;
pub mod identity;
pub mod mqtt;
pub mod run;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod sync;
#[cfg(test)]
mod testkit;
pub mod tls;

pub use config::Config;
pub use run::{run, run_with_ready};
