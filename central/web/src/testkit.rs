//! Fixtures the page and rule tests share.

use std::collections::BTreeMap;

use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::status::{DeviceState, DeviceStatus};

/// An online device's status with nothing waiting, no hardware and no scanning.
pub fn status(device: &str, branch: &str) -> DeviceStatus {
    DeviceStatus {
        v: 1,
        device: DeviceId::new(device.to_owned()).expect("device id"),
        branch: BranchId::new(branch.to_owned()).expect("branch id"),
        state: DeviceState::Online,
        version: "0.1.0".into(),
        boot_id: "b".into(),
        started_at: 0,
        at: 0,
        time_synced: true,
        outbox_depth: 0,
        oldest_unsynced_age_s: None,
        catalogue_version: 1,
        disk_free_bytes: None,
        temperature_c: None,
        hardware: BTreeMap::new(),
        digitise: None,
    }
}
