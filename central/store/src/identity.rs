//! Device identity: one-time enrolment codes, enrolled devices with their public keys,
//! revocation, and the quarantine of event batches that central will not apply blindly.

use rong_protocol::event::EventBatch;
use rong_protocol::ids::{BranchId, DeviceId};
use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError};

/// Whether a device may send on a branch's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Enrolled in this branch and not revoked.
    Known,
    /// The topic's branch does not exist.
    UnknownBranch,
    /// The device is enrolled in another branch.
    OtherBranch(BranchId),
    /// Central knows no enrolled device of this id.
    Unenrolled,
    /// The device was revoked.
    Revoked,
}

impl Registration {
    /// Whether the device may proceed.
    pub fn allowed(&self) -> bool {
        matches!(self, Registration::Known)
    }

    /// Why a message of the device is not applied, for logs and the quarantine.
    pub fn reason(&self) -> String {
        match self {
            Registration::Known => "enrolled".into(),
            Registration::UnknownBranch => "unknown branch".into(),
            Registration::OtherBranch(b) => format!("device is enrolled in branch {b}"),
            Registration::Unenrolled => "device is not enrolled".into(),
            Registration::Revoked => "device is revoked".into(),
        }
    }
}

/// A device as central knows it, for checking its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    /// The device.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// Its public key (base64); `None` for a device that was never enrolled.
    pub public_key: Option<String>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A device whose request carried valid credentials; device routes find it in the
/// request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedDevice {
    /// The device.
    pub device: DeviceId,
    /// Its enrolled branch.
    pub branch: BranchId,
}

/// A new one-time code, as its hash.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// SHA-256 of the code (`rong_identity::EnrolmentCode::hash`).
    pub hash: &'a str,
    /// The branch the device will belong to.
    pub branch: &'a BranchId,
    /// `kiosk` or `station`.
    pub role: &'a str,
    /// The device id it will get; `None`: one is made from the branch and role.
    pub device: Option<&'a DeviceId>,
    /// Who made it (a user name, or `cli`).
    pub created_by: &'a str,
    /// When, ms since the epoch.
    pub now_ms: i64,
    /// When it stops working, ms since the epoch.
    pub expires_at: i64,
}

/// Why a code was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefused {
    /// No such code.
    #[error("unknown enrolment code")]
    Unknown,
    /// Already used.
    #[error("enrolment code already used")]
    Spent,
    /// Past its expiry.
    #[error("enrolment code expired")]
    Expired,
}

/// A device just enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// Its id.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// Its role.
    pub role: String,
}

/// A device row for the dashboard's list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceIdentity {
    /// The device.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// Its role, once enrolled.
    pub role: Option<String>,
    /// When it enrolled, ms.
    pub enrolled_at: Option<i64>,
    /// When it was revoked, ms.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// A quarantined batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// Its id.
    pub id: i64,
    /// When it arrived, ms.
    pub received_at: i64,
    /// The topic's branch.
    pub branch: String,
    /// The topic's device.
    pub device: String,
    /// Why it was not applied.
    pub reason: String,
    /// How many events it holds.
    pub events: usize,
    /// `accepted` or `discarded` once decided.
    pub decision: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
}

/// A device's credentials, if central knows it.
pub fn device_credentials(
    c: &Connection,
    device: &str,
) -> Result<Option<DeviceCredentials>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT id, branch, public_key, revoked_at IS NOT NULL FROM devices WHERE id = ?1",
        )?
        .query_row(params![device], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })
        .optional()?;
    let Some((id, branch, public_key, revoked)) = row else {
        return Ok(None);
    };
    Ok(Some(DeviceCredentials {
        device: DeviceId::new(id).map_err(stored_id)?,
        branch: BranchId::new(branch).map_err(stored_id)?,
        public_key,
        revoked,
    }))
}

/// Every device with its identity, by id.
pub fn device_identities(c: &Connection) -> Result<Vec<DeviceIdentity>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, branch, role, enrolled_at, revoked_at, revoked_by FROM devices ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeviceIdentity {
            device: r.get(0)?,
            branch: r.get(1)?,
            role: r.get(2)?,
            enrolled_at: r.get(3)?,
            revoked_at: r.get(4)?,
            revoked_by: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Quarantined batches, newest first; only undecided ones unless `all`, only `branch`'s
/// (its topic's) when one is given.
pub fn quarantined(
    c: &Connection,
    all: bool,
    branch: Option<&str>,
) -> Result<Vec<Quarantined>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, received_at, branch, device, reason, batch, decision, decided_by \
         FROM quarantine WHERE (?1 OR decision IS NULL) AND (?2 IS NULL OR branch = ?2) \
         ORDER BY id DESC LIMIT 500",
    )?;
    let rows = stmt.query_map(params![all, branch], |r| {
        let batch: String = r.get(5)?;
        let events = serde_json::from_str::<EventBatch>(&batch)
            .map(|b| b.events.len())
            .unwrap_or(0);
        Ok(Quarantined {
            id: r.get(0)?,
            received_at: r.get(1)?,
            branch: r.get(2)?,
            device: r.get(3)?,
            reason: r.get(4)?,
            events,
            decision: r.get(6)?,
            decided_by: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Records a new one-time code. The branch must exist, and a named device must not be
    /// enrolled already (revoke it first to replace its board).
    pub fn create_enrolment_code(&mut self, code: &NewCode<'_>) -> Result<(), StoreError> {
        if !super::snapshot::branch_exists(&self.conn, code.branch)? {
            return Err(StoreError::NotFound(format!("branch {}", code.branch)));
        }
        if let Some(d) = code.device {
            if let Some(c) = device_credentials(&self.conn, d.as_str())? {
                if c.public_key.is_some() && !c.revoked {
                    return Err(StoreError::Conflict(format!(
                        "device {d} is enrolled; revoke it before enrolling a new board as {d}"
                    )));
                }
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO enrolment_codes (hash, branch, role, device, created_by, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                code.hash,
                code.branch.as_str(),
                code.role,
                code.device.map(DeviceId::as_str),
                code.created_by,
                code.now_ms,
                code.expires_at
            ])?;
        Ok(())
    }

    /// Spends a code: enrols the device it names (or a new id) with `public_key`, in one
    /// transaction, so a code is never spent twice.
    pub fn redeem_enrolment_code(
        &mut self,
        hash: &str,
        public_key: &str,
        now_ms: i64,
    ) -> Result<Result<Enrolled, CodeRefused>, StoreError> {
        let tx = self.conn.transaction()?;
        let row = tx
            .prepare_cached(
                "SELECT branch, role, device, expires_at, spent_at FROM enrolment_codes WHERE hash = ?1",
            )?
            .query_row(params![hash], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .optional()?;
        let Some((branch, role, device, expires_at, spent_at)) = row else {
            return Ok(Err(CodeRefused::Unknown));
        };
        if spent_at.is_some() {
            return Ok(Err(CodeRefused::Spent));
        }
        if expires_at <= now_ms {
            return Ok(Err(CodeRefused::Expired));
        }
        let device = match device {
            Some(d) => d,
            None => next_device_id(&tx, &branch, &role)?,
        };
        tx.prepare_cached(
            "INSERT INTO devices (id, branch, registered_at, role, public_key, enrolled_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?3) \
             ON CONFLICT(id) DO UPDATE SET branch = excluded.branch, role = excluded.role, \
             public_key = excluded.public_key, enrolled_at = excluded.enrolled_at, \
             revoked_at = NULL, revoked_by = NULL",
        )?
        .execute(params![device, branch, now_ms, role, public_key])?;
        tx.prepare_cached(
            "UPDATE enrolment_codes SET spent_at = ?2, spent_by = ?3 WHERE hash = ?1",
        )?
        .execute(params![hash, now_ms, device])?;
        tx.commit()?;
        Ok(Ok(Enrolled {
            device: DeviceId::new(device).map_err(stored_id)?,
            branch: BranchId::new(branch).map_err(stored_id)?,
            role,
        }))
    }

    /// Revokes a device: from now on its requests are refused and its events quarantined.
    pub fn revoke_device(
        &mut self,
        device: &DeviceId,
        by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2), revoked_by = coalesce(revoked_by, ?3) WHERE id = ?1",
            )?
            .execute(params![device.as_str(), now_ms, by])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("device {device}")));
        }
        Ok(())
    }

    /// Whether `device` may send on `branch`'s topics: enrolled there and not revoked.
    pub fn check_device(
        &mut self,
        branch: &BranchId,
        device: &DeviceId,
    ) -> Result<Registration, StoreError> {
        if !super::snapshot::branch_exists(&self.conn, branch)? {
            return Ok(Registration::UnknownBranch);
        }
        let Some(c) = device_credentials(&self.conn, device.as_str())? else {
            return Ok(Registration::Unenrolled);
        };
        Ok(if c.public_key.is_none() {
            Registration::Unenrolled
        } else if c.revoked {
            Registration::Revoked
        } else if &c.branch != branch {
            Registration::OtherBranch(c.branch)
        } else {
            Registration::Known
        })
    }

    /// Sets a batch aside for staff; answers whether it is new (a device that is never
    /// acked sends the same batch again, which is kept once).
    pub fn quarantine_batch(
        &mut self,
        branch: &BranchId,
        batch: &EventBatch,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        use sha2::Digest as _;
        let json = serde_json::to_string(batch)?;
        let digest: String = sha2::Sha256::digest(format!("{branch}\n{json}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO quarantine (received_at, branch, device, reason, batch, digest) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![now_ms, branch.as_str(), batch.device.as_str(), reason, json, digest])?;
        Ok(n == 1)
    }

    /// Records a decision on an undecided quarantined batch; answers the batch (with the
    /// topic's branch) when it was accepted, for the caller to apply.
    pub fn decide_quarantined(
        &mut self,
        id: i64,
        accept: bool,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<(BranchId, EventBatch)>, StoreError> {
        let decision = if accept { "accepted" } else { "discarded" };
        let tx = self.conn.transaction()?;
        let row = tx
            .prepare_cached(
                "SELECT branch, batch FROM quarantine WHERE id = ?1 AND decision IS NULL",
            )?
            .query_row(params![id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        let Some((branch, batch)) = row else {
            return Err(StoreError::NotFound(format!(
                "undecided quarantined batch {id}"
            )));
        };
        tx.prepare_cached(
            "UPDATE quarantine SET decision = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
        )?
        .execute(params![id, decision, by, now_ms])?;
        tx.commit()?;
        if !accept {
            return Ok(None);
        }
        let branch = BranchId::new(branch)
            .map_err(|e| StoreError::Conflict(format!("stored branch id is invalid: {e}")))?;
        Ok(Some((branch, serde_json::from_str(&batch)?)))
    }
}

/// A stored id that no longer parses.
fn stored_id(e: rong_protocol::ids::IdError) -> StoreError {
    StoreError::Conflict(format!("stored id is invalid: {e}"))
}

/// The first free `{branch}-{role}-{n}`.
fn next_device_id(c: &Connection, branch: &str, role: &str) -> Result<String, StoreError> {
    let mut n = 1u32;
    loop {
        let id = format!("{branch}-{role}-{n}");
        let taken = c
            .prepare_cached("SELECT 1 FROM devices WHERE id = ?1")?
            .query_row(params![id], |_| Ok(()))
            .optional()?
            .is_some();
        if !taken {
            return Ok(id);
        }
        n += 1;
    }
}

/// Enrols `device` in `branch` with `public_key` directly, for tests and benchmarks that
/// play a device without an enrolment code.
pub fn enrol_directly(
    store: &mut Store,
    branch: &BranchId,
    device: &DeviceId,
    public_key: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    store
        .conn
        .prepare_cached(
            "INSERT INTO devices (id, branch, registered_at, role, public_key, enrolled_at) \
             VALUES (?1, ?2, ?3, 'kiosk', ?4, ?3) \
             ON CONFLICT(id) DO UPDATE SET branch = excluded.branch, public_key = excluded.public_key, \
             enrolled_at = excluded.enrolled_at, revoked_at = NULL, revoked_by = NULL",
        )?
        .execute(params![device.as_str(), branch.as_str(), now_ms, public_key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::delta::{Branch, Op};

    fn store_with(branches: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let ops: Vec<Op> = branches
            .iter()
            .map(|b| {
                Op::PutBranch(Branch {
                    id: BranchId::new(*b).unwrap(),
                    name: b.to_string(),
                    closed_weekdays: vec![],
                    require_pin: false,
                })
            })
            .collect();
        s.put_ops(&ops).unwrap();
        (dir, s)
    }

    fn code<'a>(hash: &'a str, branch: &'a BranchId, expires_at: i64) -> NewCode<'a> {
        NewCode {
            hash,
            branch,
            role: "kiosk",
            device: None,
            created_by: "cli",
            now_ms: 0,
            expires_at,
        }
    }

    #[test]
    fn a_code_enrols_once_before_it_expires() {
        let (_d, mut s) = store_with(&["kontum", "dakto"]);
        let kontum = BranchId::new("kontum").unwrap();
        let nowhere = BranchId::new("nowhere").unwrap();
        assert!(matches!(
            s.create_enrolment_code(&code("h0", &nowhere, 100)),
            Err(StoreError::NotFound(_))
        ));
        s.create_enrolment_code(&code("h1", &kontum, 100)).unwrap();
        s.create_enrolment_code(&code("h2", &kontum, 100)).unwrap();
        let e = s.redeem_enrolment_code("h1", "pk1", 10).unwrap().unwrap();
        assert_eq!(e.device.as_str(), "kontum-kiosk-1");
        assert_eq!(
            s.redeem_enrolment_code("h1", "pk9", 11).unwrap(),
            Err(CodeRefused::Spent)
        );
        assert_eq!(
            s.redeem_enrolment_code("hx", "pk9", 11).unwrap(),
            Err(CodeRefused::Unknown)
        );
        assert_eq!(
            s.redeem_enrolment_code("h2", "pk2", 100).unwrap(),
            Err(CodeRefused::Expired)
        );
        let c = device_credentials(s.reader(), "kontum-kiosk-1")
            .unwrap()
            .unwrap();
        assert_eq!((c.public_key.as_deref(), c.revoked), (Some("pk1"), false));
        assert_eq!(
            s.check_device(&kontum, &e.device).unwrap(),
            Registration::Known
        );
        let dakto = BranchId::new("dakto").unwrap();
        assert_eq!(
            s.check_device(&dakto, &e.device).unwrap(),
            Registration::OtherBranch(kontum.clone())
        );
        let stranger = DeviceId::new("kontum-kiosk-9").unwrap();
        assert_eq!(
            s.check_device(&kontum, &stranger).unwrap(),
            Registration::Unenrolled
        );
        assert!(
            device_credentials(s.reader(), "kontum-kiosk-9")
                .unwrap()
                .is_none(),
            "no row made"
        );
        // A named device that is enrolled cannot get a second code until it is revoked.
        let mut named = code("h3", &kontum, 100);
        named.device = Some(&e.device);
        assert!(matches!(
            s.create_enrolment_code(&named),
            Err(StoreError::Conflict(_))
        ));
        s.revoke_device(&e.device, "admin", 20).unwrap();
        assert_eq!(
            s.check_device(&kontum, &e.device).unwrap(),
            Registration::Revoked
        );
        s.create_enrolment_code(&named).unwrap();
        let again = s.redeem_enrolment_code("h3", "pk3", 30).unwrap().unwrap();
        assert_eq!(again.device, e.device);
        assert_eq!(
            s.check_device(&kontum, &e.device).unwrap(),
            Registration::Known
        );
    }

    #[test]
    fn quarantined_batches_are_decided_once() {
        let (_d, mut s) = store_with(&["kontum"]);
        let kontum = BranchId::new("kontum").unwrap();
        let batch = EventBatch::new(DeviceId::new("x-1").unwrap(), uuid::Uuid::now_v7(), vec![]);
        assert!(s
            .quarantine_batch(&kontum, &batch, "device is not enrolled", 1)
            .unwrap());
        assert!(
            !s.quarantine_batch(&kontum, &batch, "device is not enrolled", 2)
                .unwrap(),
            "kept once"
        );
        let other = EventBatch::new(batch.device.clone(), uuid::Uuid::now_v7(), vec![]);
        assert!(s
            .quarantine_batch(&kontum, &other, "device is revoked", 2)
            .unwrap());
        let open = quarantined(s.reader(), false, None).unwrap();
        assert_eq!(open.len(), 2);
        let (b, a) = (open[0].id, open[1].id);
        assert_eq!(s.decide_quarantined(a, false, "admin", 3).unwrap(), None);
        let (br, got) = s.decide_quarantined(b, true, "admin", 3).unwrap().unwrap();
        assert_eq!((br, got), (kontum, other));
        assert!(matches!(
            s.decide_quarantined(b, true, "admin", 4),
            Err(StoreError::NotFound(_))
        ));
        assert!(quarantined(s.reader(), false, None).unwrap().is_empty());
        assert_eq!(quarantined(s.reader(), true, None).unwrap().len(), 2);
        assert_eq!(
            quarantined(s.reader(), true, Some("nowhere"))
                .unwrap()
                .len(),
            0
        );
    }
}
