//! The change log: one reference-data `Op` per version.

use rong_protocol::delta::Op;
use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// The ops one committed transaction appended, to publish as a delta.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The version before the first op.
    pub from_version: u64,
    /// The ops, at versions `from_version + 1 ..`.
    pub ops: Vec<Op>,
}

impl Applied {
    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The version after the last op.
    pub fn to_version(&self) -> u64 {
        self.from_version + self.ops.len() as u64
    }
}

/// Appends one op (scoped to every branch) and notes it in `applied`.
pub(super) fn append(conn: &Connection, op: Op, applied: &mut Applied) -> Result<u64, StoreError> {
    // Every change devices are sent passes here: an op over the protocol's limits would be
    // refused by every device and stall its branch, so it is refused first.
    op.check_lengths().map_err(|e| StoreError::TooLong(e.0))?;
    let json = serde_json::to_string(&op)?;
    conn.prepare_cached("INSERT INTO changes (scope, op) VALUES (NULL, ?1)")?
        .execute(params![json])?;
    let version = conn.last_insert_rowid() as u64;
    if applied.ops.is_empty() {
        applied.from_version = version - 1;
    }
    applied.ops.push(op);
    Ok(version)
}

/// Central's current change-log version (0 when empty).
pub fn current_version(conn: &Connection) -> Result<u64, StoreError> {
    max_version(conn, "SELECT MAX(version) FROM changes")
}

/// The version a `SELECT MAX(version) ...` query answers, 0 when there are no rows.
fn max_version(conn: &Connection, sql: &str) -> Result<u64, StoreError> {
    let v: Option<i64> = conn
        .prepare_cached(sql)?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(v.unwrap_or(0) as u64)
}

/// The scope of a snapshot marker row.
const SNAPSHOT_SCOPE: &str = "snapshot";

/// Appends a snapshot marker: devices below its version must take the snapshot, because
/// the rows written with it have no change-log entries of their own. Returns its version.
pub(super) fn mark_snapshot(conn: &Connection, note: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("INSERT INTO changes (scope, op) VALUES (?1, ?2)")?
        .execute(params![SNAPSHOT_SCOPE, note])?;
    Ok(conn.last_insert_rowid() as u64)
}

/// The version of the newest snapshot marker (0 when there is none): a device below it
/// must take the snapshot.
pub fn snapshot_floor(conn: &Connection) -> Result<u64, StoreError> {
    max_version(
        conn,
        "SELECT MAX(version) FROM changes WHERE scope = 'snapshot'",
    )
}

/// The ops after `from` up to and including `to`, in order. A snapshot marker in the range
/// is an error: a device that far behind must take the snapshot ([`snapshot_floor`]).
pub fn ops_between(conn: &Connection, from: u64, to: u64) -> Result<Vec<Op>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, scope, op FROM changes WHERE version > ?1 AND version <= ?2 \
         ORDER BY version",
    )?;
    let mut rows = stmt.query(params![from as i64, to as i64])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if row.get::<_, Option<String>>(1)?.as_deref() == Some(SNAPSHOT_SCOPE) {
            let version: i64 = row.get(0)?;
            return Err(StoreError::Conflict(format!(
                "version {version} is a snapshot marker: deltas cannot cross it"
            )));
        }
        out.push(serde_json::from_str(&row.get::<_, String>(2)?)?);
    }
    Ok(out)
}
