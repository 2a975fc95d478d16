//! Rông central: the authority on circulation.
//!
//! Devices work offline and send events; central applies each exactly once with the
//! offline conflict rules (`rong_lending::reconcile`), keeps a change log and sends versioned deltas
//! down ([`deltas`]), serves snapshots over HTTP, records device status, and has a JSON
//! API. See `docs/SYNC.md` for the contract it implements.

pub mod alerting;
pub mod backup;
pub mod broker;
pub mod broker_acl;
pub mod cli;
pub mod config;
pub mod deltas;
pub mod device_admin;
pub mod device_cli;
pub mod http;
pub mod ingest;
pub mod init_cli;
pub mod metrics;
pub mod mqtt;
pub mod offline_pins;
pub mod routes;
pub mod server;
pub mod setup;
pub mod signing;
pub mod tls;
pub mod tokens;

pub use config::Config;
pub use server::{serve, Ready};
