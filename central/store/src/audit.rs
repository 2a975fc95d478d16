//! The audit log: every change a person or a token made, with who, what, when and from
//! where. Other parts of central add to it through [`Store::audit`] (on the writer) or
//! [`crate::Writer::audit`]; the dashboard shows it at `/admin/audit`.
//!
//! Write one entry per change, after the change succeeded (or, for refused logins, after
//! the refusal), for example:
//!
//! ```no_run
//! # async fn f(writer: central_store::Writer) -> Result<(), central_store::StoreError> {
//! use central_store::audit::Entry;
//! let entry = Entry::new("ana", "device.revoke", "kontum-kiosk-1")
//!     .role("admin")
//!     .branch(Some("kontum"))
//!     .peer(Some("192.0.2.7".into()))
//!     .detail("lost board");
//! writer.audit(entry).await
//! # }
//! ```

use rong_sqlite::query_list;
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::{Store, StoreError};

/// The longest detail kept; longer ones are cut (the log is for people, not for payloads).
pub const MAX_DETAIL_CHARS: usize = 500;

/// One change to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Who: a user name, `token:<label>`, or `cli` for the command line.
    pub actor: String,
    /// The actor's role (`admin`, `staff`, `readonly`), when it has one.
    pub role: Option<String>,
    /// What, as `noun.verb`: `patron.block`, `device.command`, `login.failed`, ...
    pub action: String,
    /// What it was done to: a card, a device id, an alert id, a file.
    pub target: String,
    /// The branch the change concerns, if one; branch staff see their branch's rows.
    pub branch: Option<String>,
    /// From where: the peer's address, when it came over the network.
    pub peer: Option<String>,
    /// A short detail (a block reason, a command, counts).
    pub detail: String,
    /// When (ms); [`Entry::new`] takes the current time.
    #[serde(rename = "at")]
    pub at_ms: i64,
}

impl Entry {
    /// An entry by `actor` doing `action` to `target`, now.
    pub fn new(actor: impl Into<String>, action: &str, target: impl Into<String>) -> Entry {
        Entry {
            actor: actor.into(),
            role: None,
            action: action.to_owned(),
            target: target.into(),
            branch: None,
            peer: None,
            detail: String::new(),
            at_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// With the actor's role.
    pub fn role(mut self, role: &str) -> Entry {
        self.role = Some(role.to_owned());
        self
    }

    /// With the branch concerned.
    pub fn branch(mut self, branch: Option<&str>) -> Entry {
        self.branch = branch.map(str::to_owned);
        self
    }

    /// With the peer address.
    pub fn peer(mut self, peer: Option<String>) -> Entry {
        self.peer = peer;
        self
    }

    /// With a short detail, cut at [`MAX_DETAIL_CHARS`].
    pub fn detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = detail.into().chars().take(MAX_DETAIL_CHARS).collect();
        self
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Id; newer entries have larger ids.
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
}

impl Store {
    /// Records one change in the audit log.
    pub fn audit(&mut self, e: &Entry) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_log (at, actor, role, action, target, branch, peer, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                e.at_ms, e.actor, e.role, e.action, e.target, e.branch, e.peer, e.detail
            ])?;
        Ok(())
    }
}

/// A page of the log, newest first: entries older than `before` (an id; none: from the
/// newest), of one branch or all, at most `limit`.
pub fn page(
    c: &Connection,
    branch: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(query_list(
        c,
        "SELECT id, at, actor, role, action, target, branch, peer, detail FROM audit_log \
         WHERE (?1 IS NULL OR branch = ?1) AND (?2 IS NULL OR id < ?2) \
         ORDER BY id DESC LIMIT ?3",
        params![branch, before, limit],
        |r| {
            Ok(AuditRow {
                id: r.get(0)?,
                entry: Entry {
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    role: r.get(3)?,
                    action: r.get(4)?,
                    target: r.get(5)?,
                    branch: r.get(6)?,
                    peer: r.get(7)?,
                    detail: r.get(8)?,
                },
            })
        },
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_page_newest_first_by_branch() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        for i in 0..5 {
            let branch = if i % 2 == 0 { "kontum" } else { "dakto" };
            let e = Entry::new("ana", "patron.block", format!("P{i}"))
                .role("admin")
                .branch(Some(branch))
                .peer(Some("127.0.0.1".into()))
                .detail("x".repeat(600));
            s.audit(&e).unwrap();
        }
        let all = page(s.reader(), None, None, 3).unwrap();
        let targets: Vec<&str> = all.iter().map(|r| r.entry.target.as_str()).collect();
        assert_eq!(targets, ["P4", "P3", "P2"]);
        assert_eq!(all[0].entry.detail.chars().count(), MAX_DETAIL_CHARS);
        let next = page(s.reader(), None, Some(all[2].id), 3).unwrap();
        assert_eq!(next.len(), 2);
        let kontum = page(s.reader(), Some("kontum"), None, 10).unwrap();
        assert_eq!(kontum.len(), 3);
        assert!(kontum
            .iter()
            .all(|r| r.entry.branch.as_deref() == Some("kontum")));
    }
}
