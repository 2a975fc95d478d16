//! The device status published on `.../status`: sync state, disk, temperature, hardware.

use std::path::Path;

use rong_protocol::status::{DeviceState, DeviceStatus};
use rong_protocol::SCHEMA_VERSION;

use crate::agent::{now_ms, Agent};

/// Free bytes on the file system holding `path`.
pub fn disk_free(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some((s.blocks_available() as u64).saturating_mul(s.fragment_size() as u64))
}

/// The SoC temperature, when the board reports one.
pub fn temperature() -> Option<f32> {
    let text = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp").ok()?;
    let milli: f32 = text.trim().parse().ok()?;
    Some(milli / 1000.0)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_free_reads_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert!(disk_free(dir.path()).unwrap() > 0);
        assert_eq!(disk_free(&dir.path().join("missing")), None);
    }
}
