//! Device status, the status timeline, and commands with their replies.

use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::status::{CommandReply, DeviceState, DeviceStatus};
use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// How many status rows to keep per device.
const STATUS_LOG_KEEP: i64 = 2000;

fn state_str(s: DeviceState) -> &'static str {
    match s {
        DeviceState::Online => "online",
        DeviceState::Offline => "offline",
    }
}

impl Store {
    /// Records a device's status as its latest and appends it to its timeline.
    ///
    /// A status identical to the latest one is the broker redelivering the retained message
    /// (central subscribed again); it is skipped, so `last_seen` stays when central last
    /// heard from the device itself. Every real status differs: it carries its own `at`.
    pub fn record_status(&mut self, status: &DeviceStatus, now_ms: i64) -> Result<(), StoreError> {
        let json = serde_json::to_string(status)?;
        let state = state_str(status.state);
        let tx = self.conn.transaction()?;
        let latest: Option<String> = tx
            .prepare_cached("SELECT status FROM devices WHERE id = ?1")?
            .query_row(params![status.device.as_str()], |r| r.get(0))
            .optional()?
            .flatten();
        if latest.as_deref() == Some(json.as_str()) {
            tracing::debug!(device = %status.device, "status unchanged (retained redelivery)");
            return Ok(());
        }
        tx.prepare_cached(
            "UPDATE devices SET state = ?2, status = ?3, last_seen = ?4 WHERE id = ?1",
        )?
        .execute(params![status.device.as_str(), state, json, now_ms])?;
        tx.prepare_cached(
            "INSERT INTO device_status_log (device, received_at, state, status) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![status.device.as_str(), now_ms, state, json])?;
        tx.prepare_cached(
            "DELETE FROM device_status_log WHERE device = ?1 AND id <= \
             (SELECT id FROM device_status_log WHERE device = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![status.device.as_str(), STATUS_LOG_KEEP])?;
        tx.commit()?;
        Ok(())
    }

    /// Records a command about to be sent; returns the device's branch.
    pub fn record_command(
        &mut self,
        device: &DeviceId,
        id: &str,
        command_json: &str,
        now_ms: i64,
    ) -> Result<BranchId, StoreError> {
        let branch: Option<String> = self
            .conn
            .prepare_cached("SELECT branch FROM devices WHERE id = ?1")?
            .query_row(params![device.as_str()], |r| r.get(0))
            .optional()?;
        let branch = branch.ok_or_else(|| StoreError::NotFound(format!("device {device}")))?;
        let branch = BranchId::new(branch)
            .map_err(|e| StoreError::Conflict(format!("stored branch id is invalid: {e}")))?;
        self.conn
            .prepare_cached(
                "INSERT INTO commands (id, device, command, sent_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, device.as_str(), command_json, now_ms])?;
        Ok(branch)
    }

    /// Stores a device's reply to a command (also one central has no record of).
    pub fn record_reply(
        &mut self,
        device: &DeviceId,
        reply: &CommandReply,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO commands (id, device, ok, message, replied_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(id) DO UPDATE SET ok = excluded.ok, message = excluded.message, \
                 replied_at = excluded.replied_at WHERE commands.device = excluded.device",
            )?
            .execute(params![reply.id, device.as_str(), reply.ok, reply.message, now_ms])?;
        Ok(())
    }
}
