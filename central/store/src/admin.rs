//! The dashboard's data: users, sessions, fleet alerts, acknowledgements, device lists
//! with their latest status, and circulation statistics.

use rong_protocol::status::DeviceStatus;
use rong_sqlite::{from_row, query_list};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError};

/// A dashboard role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, every branch.
    Admin,
    /// One branch only.
    Staff,
    /// One branch only, and may change nothing.
    Readonly,
    /// One branch's counter: the circulation desk and its readers, nothing else.
    Circulation,
    /// One branch's cataloguer: the catalogue (network-wide) and nothing else.
    Cataloguer,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Readonly => "readonly",
            Role::Circulation => "circulation",
            Role::Cataloguer => "cataloguer",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "readonly" => Some(Role::Readonly),
            "circulation" => Some(Role::Circulation),
            "cataloguer" => Some(Role::Cataloguer),
            _ => None,
        }
    }
}

/// Another branch's data, or a change by a read-only caller: refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied;

/// What a caller may see and do: its role and, unless it is an administrator, its branch.
/// The dashboard and the JSON API both decide through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Role.
    pub role: Role,
    /// The branch of staff and read-only callers.
    pub branch: Option<String>,
}

impl Access {
    /// Whether data of `branch` may be shown: administrators see all, the others only
    /// their own branch (and never data of no known branch).
    pub fn may_see(&self, branch: Option<&str>) -> bool {
        match self.role {
            Role::Admin => true,
            _ => branch.is_some() && branch == self.branch.as_deref(),
        }
    }

    /// The branch filter to apply when `asked` was asked for (none or empty: every branch
    /// the caller may see); another branch than a branch caller's own is denied.
    pub fn scope(&self, asked: Option<&str>) -> Result<Option<String>, Denied> {
        let asked = asked.filter(|b| !b.is_empty());
        match self.role {
            Role::Admin => Ok(asked.map(str::to_owned)),
            _ => match (asked, &self.branch) {
                (Some(a), Some(mine)) if a != mine => Err(Denied),
                (_, mine) => Ok(mine.clone()),
            },
        }
    }

    /// Whether the caller may change the branch's set-up, devices and alerts
    /// (administrators and branch librarians).
    pub fn may_change(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Staff)
    }

    /// Whether the caller may lend at the desk and register and manage readers
    /// (administrators, branch librarians and circulation staff).
    pub fn may_lend(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Staff | Role::Circulation)
    }

    /// Whether the caller may change the catalogue (administrators, branch librarians and
    /// cataloguers).
    pub fn may_catalogue(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Staff | Role::Cataloguer)
    }
}

/// A dashboard user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Login name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Branch, for staff and read-only users.
    pub branch: Option<String>,
}

/// A live session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Login name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Branch, for staff.
    pub branch: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it expires (ms).
    pub expires_at: i64,
}

/// One alert kind that the evaluator decided holds for a device right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCandidate {
    /// Kind: `offline`, `unsynced`, `hardware_missing`, `low_disk`, or central's own
    /// `backup_failed` and `forged_messages`.
    pub kind: &'static str,
    /// Device.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// For staff, in English (the page shows a translated title beside it).
    pub detail: String,
}

/// An alert as stored.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Device.
    pub device: String,
    /// Branch.
    pub branch: String,
    /// Detail.
    pub detail: String,
    /// When it was raised (ms).
    pub raised_at: i64,
    /// When the condition ended (ms), if it did.
    pub cleared_at: Option<i64>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When (ms).
    pub acknowledged_at: Option<i64>,
}

/// A circulation notice with the branch of the device that raised it.
#[derive(Debug, Clone, Serialize)]
pub struct BranchNotice {
    /// The notice.
    #[serde(flatten)]
    pub notice: super::queries::NoticeRow,
    /// The device's branch, if known.
    pub branch: Option<String>,
}

/// A device with its latest status, for the devices page.
#[derive(Debug, Clone)]
pub struct FleetRow {
    /// Id.
    pub id: String,
    /// Branch.
    pub branch: String,
    /// `online`, `offline`, or none before its first status.
    pub state: Option<String>,
    /// When central last heard its status (ms).
    pub last_seen: Option<i64>,
    /// The latest status, when it parsed.
    pub status: Option<DeviceStatus>,
}

/// Counts of one event kind on one day at one branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// Local date, `yyyy-mm-dd`.
    pub day: String,
    /// Branch of the device.
    pub branch: String,
    /// `checkout`, `checkin`, `renew` or `identify`.
    pub kind: String,
    /// How many.
    pub count: u64,
}

/// A title and how often it was lent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TitleCount {
    /// Title.
    pub title: String,
    /// Loans.
    pub count: u64,
}

pub(crate) fn role_col(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {s:?}").into(),
        )
    })
}

impl Store {
    /// Creates a dashboard user; a taken name is a conflict.
    pub fn create_user(
        &mut self,
        name: &str,
        password_hash: &str,
        role: Role,
        branch: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.known_branch(branch)?;
        let n = self.conn.execute(
            "INSERT INTO admin_users (name, password_hash, role, branch, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO NOTHING",
            params![name, password_hash, role.as_str(), branch, now_ms],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!("user {name} already exists")));
        }
        Ok(())
    }

    /// Fails with `NotFound` unless `branch` is none or a known branch.
    pub(crate) fn known_branch(&self, branch: Option<&str>) -> Result<(), StoreError> {
        if let Some(b) = branch {
            let known: Option<String> = self
                .conn
                .query_row("SELECT id FROM branches WHERE id = ?1", [b], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("branch {b}")));
            }
        }
        Ok(())
    }

    /// Starts a session; also drops expired ones.
    pub fn create_session(
        &mut self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM admin_sessions WHERE expires_at <= ?1",
            [now_ms],
        )?;
        tx.execute(
            "INSERT INTO admin_sessions (token_hash, user, csrf, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf, now_ms, expires_at],
        )?;
        tx.execute(
            "UPDATE admin_users SET last_login_at = ?2 WHERE name = ?1",
            params![user, now_ms],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Ends a session.
    pub fn delete_session(&mut self, token_hash: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM admin_sessions WHERE token_hash = ?1",
            [token_hash],
        )?;
        Ok(())
    }

    /// Sets a session's expiry (tests use it to age a session).
    pub fn set_session_expiry(&mut self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE admin_sessions SET expires_at = ?2 WHERE token_hash = ?1",
            params![token_hash, at],
        )?;
        Ok(())
    }

    /// Acknowledges a circulation notice; false when there is none or it already was.
    pub fn ack_notice(&mut self, id: i64, by: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE notices SET acknowledged_by = ?2, acknowledged_at = ?3 \
             WHERE id = ?1 AND acknowledged_at IS NULL",
            params![id, by, now_ms],
        )? == 1)
    }

    /// Acknowledges a fleet alert; false when there is none or it already was.
    pub fn ack_alert(&mut self, id: i64, by: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE alerts SET acknowledged_by = ?2, acknowledged_at = ?3 \
             WHERE id = ?1 AND acknowledged_at IS NULL",
            params![id, by, now_ms],
        )? == 1)
    }

    /// Makes the open alerts match `holding`: raises the new ones and clears the ones whose
    /// condition ended. Returns how many were raised and cleared.
    pub fn sync_alerts(
        &mut self,
        holding: &[AlertCandidate],
        now_ms: i64,
    ) -> Result<(usize, usize), StoreError> {
        let tx = self.conn.transaction()?;
        let open: Vec<(i64, String, String)> = {
            let mut stmt =
                tx.prepare_cached("SELECT id, kind, device FROM alerts WHERE cleared_at IS NULL")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut cleared = 0;
        for (id, kind, device) in &open {
            if !holding
                .iter()
                .any(|h| h.kind == kind.as_str() && &h.device == device)
            {
                tx.prepare_cached("UPDATE alerts SET cleared_at = ?2 WHERE id = ?1")?
                    .execute(params![id, now_ms])?;
                cleared += 1;
            }
        }
        let mut raised = 0;
        for h in holding {
            if !open.iter().any(|(_, k, d)| k == h.kind && d == &h.device) {
                tx.prepare_cached(
                    "INSERT INTO alerts (kind, device, branch, detail, raised_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![h.kind, h.device, h.branch, h.detail, now_ms])?;
                raised += 1;
            }
        }
        tx.commit()?;
        Ok((raised, cleared))
    }
}

/// A user by name who may log in (a disabled account reads as none).
pub fn user(c: &Connection, name: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT name, password_hash, role, branch FROM admin_users \
         WHERE name = ?1 AND disabled_at IS NULL",
    )?
    .query_row([name], |r| {
        Ok(UserRow {
            name: r.get(0)?,
            password_hash: r.get(1)?,
            role: role_col(r.get(2)?)?,
            branch: r.get(3)?,
        })
    })
    .optional()?)
}

/// A session that has not expired, with its user.
pub fn session(
    c: &Connection,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT s.user, u.role, u.branch, s.csrf, s.expires_at FROM admin_sessions s \
         JOIN admin_users u ON u.name = s.user \
         WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
    )?
    .query_row(params![token_hash, now_ms], |r| {
        Ok(SessionRow {
            user: r.get(0)?,
            role: role_col(r.get(1)?)?,
            branch: r.get(2)?,
            csrf: r.get(3)?,
            expires_at: r.get(4)?,
        })
    })
    .optional()?)
}

/// Every device with its latest status, optionally of one branch, by id.
pub fn fleet(c: &Connection, branch: Option<&str>) -> Result<Vec<FleetRow>, StoreError> {
    Ok(query_list(
        c,
        "SELECT id, branch, state, last_seen, status FROM devices \
         WHERE ?1 IS NULL OR branch = ?1 ORDER BY branch, id",
        [branch],
        |r| {
            let status: Option<String> = r.get(4)?;
            Ok(FleetRow {
                id: r.get(0)?,
                branch: r.get(1)?,
                state: r.get(2)?,
                last_seen: r.get(3)?,
                status: status.and_then(|s| serde_json::from_str(&s).ok()),
            })
        },
    )?)
}

/// The branch a device belongs to.
pub fn device_branch(c: &Connection, device: &str) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT branch FROM devices WHERE id = ?1")?
            .query_row([device], |r| r.get(0))
            .optional()?,
    )
}

/// Alerts, newest first: open ones only, or the last `limit` of all.
pub fn alerts(
    c: &Connection,
    branch: Option<&str>,
    open_only: bool,
    limit: u32,
) -> Result<Vec<AlertRow>, StoreError> {
    Ok(query_list(
        c,
        "SELECT id, kind, device, branch, detail, raised_at, cleared_at, acknowledged_by, acknowledged_at \
         FROM alerts WHERE (?1 IS NULL OR branch = ?1) AND (?2 = 0 OR cleared_at IS NULL) \
         ORDER BY id DESC LIMIT ?3",
        params![branch, open_only, limit],
        from_row!(AlertRow => id, kind, device, branch, detail, raised_at, cleared_at,
            acknowledged_by, acknowledged_at),
    )?)
}

/// One alert's branch, if the alert exists.
pub fn alert_branch(c: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(c.prepare_cached("SELECT branch FROM alerts WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// One notice's branch (its device's), if the notice exists; the inner `None` is a
/// notice without a known device.
pub fn notice_branch(c: &Connection, id: i64) -> Result<Option<Option<String>>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT d.branch FROM notices n LEFT JOIN devices d ON d.id = n.device WHERE n.id = ?1",
    )?
    .query_row([id], |r| r.get(0))
    .optional()?)
}

/// Circulation notices, newest first, optionally only open ones or one branch's.
pub fn branch_notices(
    c: &Connection,
    branch: Option<&str>,
    open_only: bool,
    limit: u32,
) -> Result<Vec<BranchNotice>, StoreError> {
    Ok(query_list(
        c,
        "SELECT n.id, n.kind, n.device, n.seq, n.item, n.patron, n.detail, n.created_at, \
         n.acknowledged_by, n.acknowledged_at, d.branch \
         FROM notices n LEFT JOIN devices d ON d.id = n.device \
         WHERE (?1 IS NULL OR d.branch = ?1) AND (?2 = 0 OR n.acknowledged_at IS NULL) \
         ORDER BY n.id DESC LIMIT ?3",
        params![branch, open_only, limit],
        |r| {
            Ok(BranchNotice {
                notice: super::queries::notice_row(r)?,
                branch: r.get(10)?,
            })
        },
    )?)
}

/// Events per local day, branch and kind between `from_ms` (inclusive) and `to_ms`
/// (exclusive) of the device clock, shifted by `utc_offset_min` to the library's dates.
pub fn day_counts(
    c: &Connection,
    from_ms: i64,
    to_ms: i64,
    utc_offset_min: i32,
    branch: Option<&str>,
) -> Result<Vec<DayCount>, StoreError> {
    Ok(query_list(
        c,
        "SELECT date((e.device_at / 1000) + ?3 * 60, 'unixepoch') AS day, d.branch, e.kind, count(*) \
         FROM applied_events e JOIN devices d ON d.id = e.device \
         WHERE e.kind IN ('checkout', 'checkin', 'renew', 'identify') \
         AND e.device_at >= ?1 AND e.device_at < ?2 AND (?4 IS NULL OR d.branch = ?4) \
         GROUP BY day, d.branch, e.kind ORDER BY day, d.branch, e.kind",
        params![from_ms, to_ms, utc_offset_min, branch],
        from_row!(DayCount => day, branch, kind, count as i64),
    )?)
}

/// The most lent titles in a period, optionally at one branch.
pub fn top_titles(
    c: &Connection,
    from_ms: i64,
    to_ms: i64,
    branch: Option<&str>,
    limit: u32,
) -> Result<Vec<TitleCount>, StoreError> {
    Ok(query_list(
        c,
        "SELECT COALESCE(i.title, json_extract(e.body, '$.item')) AS t, count(*) AS n \
         FROM applied_events e JOIN devices d ON d.id = e.device \
         LEFT JOIN items i ON i.barcode = json_extract(e.body, '$.item') \
         WHERE e.kind = 'checkout' AND e.device_at >= ?1 AND e.device_at < ?2 \
         AND (?3 IS NULL OR d.branch = ?3) \
         GROUP BY t ORDER BY n DESC, t LIMIT ?4",
        params![from_ms, to_ms, branch, limit],
        from_row!(TitleCount => title, count as i64),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("c.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn users_and_sessions() {
        let (_d, mut s) = store();
        s.create_user("ana", "$argon2id$x", Role::Admin, None, 1)
            .unwrap();
        assert!(matches!(
            s.create_user("ana", "h", Role::Admin, None, 1),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_user("bo", "h", Role::Staff, Some("nowhere"), 1),
            Err(StoreError::NotFound(_))
        ));
        let u = user(s.reader(), "ana").unwrap().unwrap();
        assert_eq!((u.role, u.branch), (Role::Admin, None));
        s.create_session("t1", "ana", "c1", 100, 200).unwrap();
        let got = session(s.reader(), "t1", 150).unwrap().unwrap();
        assert_eq!((got.user.as_str(), got.csrf.as_str()), ("ana", "c1"));
        assert!(session(s.reader(), "t1", 200).unwrap().is_none(), "expired");
        assert!(session(s.reader(), "t2", 150).unwrap().is_none());
        s.delete_session("t1").unwrap();
        assert!(session(s.reader(), "t1", 150).unwrap().is_none());
    }

    #[test]
    fn alerts_raise_once_clear_and_acknowledge() {
        let (_d, mut s) = store();
        let a = |kind, device: &str| AlertCandidate {
            kind,
            device: device.into(),
            branch: "kontum".into(),
            detail: String::new(),
        };
        assert_eq!(
            s.sync_alerts(&[a("offline", "k1"), a("low_disk", "k2")], 10)
                .unwrap(),
            (2, 0)
        );
        assert_eq!(s.sync_alerts(&[a("offline", "k1")], 20).unwrap(), (0, 1));
        let open = alerts(s.reader(), None, true, 100).unwrap();
        assert_eq!(open.len(), 1);
        assert!(s.ack_alert(open[0].id, "ana", 30).unwrap());
        assert!(
            !s.ack_alert(open[0].id, "bo", 31).unwrap(),
            "acknowledged once"
        );
        let all = alerts(s.reader(), Some("kontum"), false, 100).unwrap();
        assert_eq!(all.len(), 2);
        let acked = all.iter().find(|r| r.id == open[0].id).unwrap();
        assert_eq!(acked.acknowledged_by.as_deref(), Some("ana"));
        assert_eq!(acked.acknowledged_at, Some(30));
        // It holds again after clearing: a new alert.
        assert_eq!(s.sync_alerts(&[], 40).unwrap(), (0, 1));
        assert_eq!(s.sync_alerts(&[a("offline", "k1")], 50).unwrap(), (1, 0));
        assert!(alerts(s.reader(), Some("dakto"), false, 100)
            .unwrap()
            .is_empty());
    }
}
