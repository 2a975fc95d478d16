//! The device status published on `.../status`: sync state, disk, temperature, hardware.

use rong_protocol::status::{DeviceState, DeviceStatus};
use rong_protocol::SCHEMA_VERSION;

use crate::agent::Agent;
use crate::clock::now_ms;
use crate::host::{disk_free, temperature};

/// Builds the status message. Store failures leave the sync fields at zero rather than
/// stopping the heartbeat.
pub fn device_status(agent: &Agent, state: DeviceState) -> DeviceStatus {
    let sync = agent.status().ok();
    DeviceStatus {
        v: SCHEMA_VERSION,
        device: agent.config.device.clone(),
        branch: agent.config.branch.clone(),
        state,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        boot_id: agent.boot_id.clone(),
        started_at: agent.started_at,
        at: now_ms(),
        time_synced: agent.config.clock.synced.is_synced(),
        outbox_depth: sync.as_ref().map_or(0, |s| s.outbox_depth),
        oldest_unsynced_age_s: sync.as_ref().and_then(|s| s.oldest_unsynced_age_s),
        catalogue_version: sync.as_ref().map_or(0, |s| s.catalogue_version),
        disk_free_bytes: disk_free(&agent.config.data_dir),
        temperature_c: temperature(),
        hardware: agent.hardware.health(),
        digitise: sync.and_then(|s| s.digitise),
    }
}
