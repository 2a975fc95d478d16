//! Reads for the JSON API. Each takes a (read-only) connection.

use chrono::NaiveDate;
use rong_protocol::delta::Item;
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::reference::{date_at, item_row, patron, ITEM_COLS};
use super::StoreError;

/// A loan, active or returned. Times are ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoanRow {
    /// Item barcode.
    pub item: String,
    /// Card.
    pub patron: String,
    /// Branch that lent it.
    pub branch: String,
    /// Device that lent it.
    pub device: Option<String>,
    /// When it was lent.
    pub loaned_at: i64,
    /// Due date.
    pub due: NaiveDate,
    /// Renewals.
    pub renewals: u32,
    /// When it came back, if it did.
    pub returned_at: Option<i64>,
    /// Device that took it back.
    pub return_device: Option<String>,
    /// Closed because someone else borrowed it.
    pub missed_return: bool,
}

const LOAN_COLS: &str =
    "item, patron, branch, device, loaned_at, due, renewals, returned_at, return_device, missed_return";

fn loan_row(r: &Row<'_>) -> rusqlite::Result<LoanRow> {
    from_row!(LoanRow => item, patron, branch, device, loaned_at, due: date_at, renewals,
        returned_at, return_device, missed_return)(r)
}

/// Which loans to list.
#[derive(Debug, Clone, Default)]
pub struct LoanFilter {
    /// One patron.
    pub patron: Option<String>,
    /// One item.
    pub item: Option<String>,
    /// Active only (else all, history included).
    pub active: bool,
    /// At most this many.
    pub limit: u32,
    /// Only loans made at this branch (a branch caller's scope).
    pub branch: Option<String>,
}

/// The statement for a filter. Only the conditions in use appear: SQLite cannot use an
/// index for `(?1 IS NULL OR patron = ?1)`, which would scan the whole loan history.
/// Parameters stay `?1` patron, `?2` item, `?3` limit, whichever appear, and `?4` branch,
/// always (it only narrows a list the other conditions chose).
fn loans_sql(f: &LoanFilter) -> String {
    let mut conds = Vec::new();
    if f.patron.is_some() {
        conds.push("patron = ?1");
    }
    if f.item.is_some() {
        conds.push("item = ?2");
    }
    if f.active {
        conds.push("returned_at IS NULL");
    }
    conds.push("(?4 IS NULL OR branch = ?4)");
    let conds = conds.join(" AND ");
    format!("SELECT {LOAN_COLS} FROM loans WHERE {conds} ORDER BY id DESC LIMIT ?3")
}

/// Lists loans, newest first.
pub fn loans(c: &Connection, f: &LoanFilter) -> Result<Vec<LoanRow>, StoreError> {
    let sql = loans_sql(f);
    Ok(query_list(
        c,
        &sql,
        params![f.patron, f.item, f.limit, f.branch],
        loan_row,
    )?)
}

/// A patron for the API: no PIN hash.
#[derive(Debug, Clone, Serialize)]
pub struct PatronDetail {
    /// Card.
    pub card: String,
    /// NFC UIDs.
    pub nfc_uids: Vec<String>,
    /// Name.
    pub name: String,
    /// Category.
    pub category: String,
    /// Home branch.
    pub branch: String,
    /// Block reason.
    pub blocked: Option<String>,
    /// Expiry.
    pub expires: Option<NaiveDate>,
    /// Whether a PIN is set.
    pub has_pin: bool,
    /// Whether the PIN is always required.
    pub pin_required: bool,
    /// Staff card.
    pub staff: bool,
    /// Active loans.
    pub active_loans: Vec<LoanRow>,
}

/// One patron with active loans.
pub fn patron_detail(c: &Connection, card: &str) -> Result<PatronDetail, StoreError> {
    let p = patron(c, card)?.ok_or_else(|| StoreError::NotFound(format!("patron {card}")))?;
    let active_loans = loans(
        c,
        &LoanFilter {
            patron: Some(card.to_owned()),
            item: None,
            active: true,
            limit: 10_000,
            branch: None,
        },
    )?;
    Ok(PatronDetail {
        card: p.card,
        nfc_uids: p.nfc_uids,
        name: p.name,
        category: p.category,
        branch: p.branch.to_string(),
        blocked: p.blocked,
        expires: p.expires,
        has_pin: p.has_pin,
        pin_required: p.pin_required,
        staff: p.staff,
        active_loans,
    })
}

/// An item with its loan.
#[derive(Debug, Clone, Serialize)]
pub struct ItemDetail {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// Its active loan, if any.
    pub loan: Option<LoanRow>,
}

/// One item.
pub fn item_detail(c: &Connection, barcode: &str) -> Result<ItemDetail, StoreError> {
    let sql = format!("SELECT {ITEM_COLS} FROM items WHERE barcode = ?1");
    let item = query_opt(c, &sql, params![barcode], item_row)?
        .ok_or_else(|| StoreError::NotFound(format!("item {barcode}")))?;
    let sql = format!("SELECT {LOAN_COLS} FROM loans WHERE item = ?1 AND returned_at IS NULL");
    let loan = query_opt(c, &sql, params![barcode], loan_row)?;
    Ok(ItemDetail { item, loan })
}

/// A device in the list.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    /// Id.
    pub id: String,
    /// Branch.
    pub branch: String,
    /// `online`, `offline`, or null before its first status.
    pub state: Option<String>,
    /// When central last heard its status (ms).
    pub last_seen: Option<i64>,
    /// When it was registered (ms).
    pub registered_at: i64,
}

const DEVICE_COLS: &str = "id, branch, state, last_seen, registered_at";

fn device_row(r: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    from_row!(DeviceRow => id, branch, state, last_seen, registered_at)(r)
}

/// All devices.
pub fn devices(c: &Connection) -> Result<Vec<DeviceRow>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLS} FROM devices ORDER BY id");
    Ok(query_list(c, &sql, [], device_row)?)
}

/// One entry of a device's status timeline.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// When central got it (ms).
    pub received_at: i64,
    /// State.
    pub state: String,
    /// The status message.
    pub status: serde_json::Value,
}

/// A command and its reply.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRow {
    /// Correlation id.
    pub id: String,
    /// The command sent.
    pub command: Option<serde_json::Value>,
    /// When it was sent (ms).
    pub sent_at: Option<i64>,
    /// The reply's verdict.
    pub ok: Option<bool>,
    /// The reply's message.
    pub message: Option<String>,
    /// When the reply came (ms).
    pub replied_at: Option<i64>,
}

/// One event log of a device.
#[derive(Debug, Clone, Serialize)]
pub struct LogRow {
    /// Log id.
    pub log: String,
    /// Highest contiguous seq applied.
    pub acked_through: u64,
}

/// A device with its status, logs, timeline and commands.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceDetail {
    /// The device.
    #[serde(flatten)]
    pub device: DeviceRow,
    /// Latest status message.
    pub status: Option<serde_json::Value>,
    /// Event logs and how far each is applied.
    pub logs: Vec<LogRow>,
    /// Recent statuses, newest first.
    pub timeline: Vec<StatusRow>,
    /// Recent commands, newest first.
    pub commands: Vec<CommandRow>,
}

fn json_col(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// One device in detail.
pub fn device_detail(c: &Connection, id: &str) -> Result<DeviceDetail, StoreError> {
    let (device, status) = c
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLS}, status FROM devices WHERE id = ?1"
        ))?
        .query_row(params![id], |r| {
            Ok((device_row(r)?, r.get::<_, Option<String>>(5)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("device {id}")))?;
    let logs = query_list(
        c,
        "SELECT log, acked_through FROM event_logs WHERE device = ?1 ORDER BY log",
        params![id],
        from_row!(LogRow => log, acked_through as i64),
    )?;
    let timeline = query_list(
        c,
        "SELECT received_at, state, status FROM device_status_log WHERE device = ?1 ORDER BY id DESC LIMIT 50",
        params![id],
        |r| {
            Ok(StatusRow {
                received_at: r.get(0)?,
                state: r.get(1)?,
                status: json_col(r.get(2)?).unwrap_or(serde_json::Value::Null),
            })
        },
    )?;
    let commands = query_list(
        c,
        "SELECT id, command, sent_at, ok, message, replied_at FROM commands WHERE device = ?1 \
         ORDER BY COALESCE(sent_at, replied_at) DESC LIMIT 50",
        params![id],
        |r| {
            Ok(CommandRow {
                id: r.get(0)?,
                command: json_col(r.get(1)?),
                sent_at: r.get(2)?,
                ok: r.get(3)?,
                message: r.get(4)?,
                replied_at: r.get(5)?,
            })
        },
    )?;
    Ok(DeviceDetail {
        device,
        status: json_col(status),
        logs,
        timeline,
        commands,
    })
}

/// A notice.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeRow {
    /// Id.
    pub id: i64,
    /// Kind, such as `missed_return`.
    pub kind: String,
    /// Device whose event raised it.
    pub device: Option<String>,
    /// That event's seq.
    pub seq: Option<i64>,
    /// Item barcode.
    pub item: Option<String>,
    /// Card.
    pub patron: Option<String>,
    /// Detail for staff.
    pub detail: String,
    /// When (ms).
    pub created_at: i64,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When it was acknowledged (ms).
    pub acknowledged_at: Option<i64>,
}

/// Which notices to list.
#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    /// One kind.
    pub kind: Option<String>,
    /// Only open (unacknowledged) ones, when set.
    pub open: Option<bool>,
    /// Only notices raised by devices of this branch (a branch caller's scope).
    pub branch: Option<String>,
}

/// Lists notices, oldest first.
pub fn notices(c: &Connection, f: &NoticeFilter) -> Result<Vec<NoticeRow>, StoreError> {
    Ok(query_list(
        c,
        "SELECT id, kind, device, seq, item, patron, detail, created_at, acknowledged_by, acknowledged_at \
         FROM notices WHERE (?1 IS NULL OR kind = ?1) \
         AND (?2 IS NULL OR (?2 = 1 AND acknowledged_at IS NULL) OR (?2 = 0 AND acknowledged_at IS NOT NULL)) \
         AND (?3 IS NULL OR device IN (SELECT id FROM devices WHERE branch = ?3)) \
         ORDER BY id LIMIT 10000",
        params![f.kind, f.open, f.branch],
        notice_row,
    )?)
}

/// A notice from its first ten columns: id, kind, device, seq, item, patron, detail,
/// created_at, acknowledged_by, acknowledged_at.
pub(super) fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoticeRow> {
    from_row!(NoticeRow => id, kind, device, seq, item, patron, detail, created_at,
        acknowledged_by, acknowledged_at)(r)
}

/// An event central applied (or recorded).
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Device.
    pub device: String,
    /// Event log id.
    pub log: String,
    /// Seq in that log.
    pub seq: u64,
    /// Event UUID.
    pub event_id: String,
    /// Kind.
    pub kind: String,
    /// What central did.
    pub outcome: String,
    /// Device clock (ms).
    pub device_at: i64,
    /// Central clock on receipt (ms).
    pub received_at: i64,
    /// Item barcode, if any.
    pub item: Option<String>,
    /// Card, if any.
    pub patron: Option<String>,
}

/// A device's events, by log then seq (logs in the order central first saw them).
pub fn events(c: &Connection, device: &str) -> Result<Vec<EventRow>, StoreError> {
    Ok(query_list(
        c,
        "SELECT device, log, seq, event_id, kind, outcome, device_at, received_at, \
         json_extract(body, '$.item'), json_extract(body, '$.patron') \
         FROM applied_events WHERE device = ?1 ORDER BY log, seq",
        params![device],
        from_row!(EventRow => device, log, seq as i64, event_id, kind, outcome, device_at,
            received_at, item, patron),
    )?)
}

/// Durable counts for `/api/v1/stats` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsRow {
    /// Events recorded, ever.
    pub events_recorded: u64,
    /// Change-log version.
    pub change_version: u64,
    /// Active loans.
    pub loans_active: u64,
    /// Open notices.
    pub notices_open: u64,
    /// Devices online.
    pub devices_online: u64,
    /// Devices offline (or never heard).
    pub devices_offline: u64,
}

/// Reads the durable counts.
pub fn stats(c: &Connection) -> Result<StatsRow, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        Ok(c.prepare_cached(sql)?
            .query_row([], |r| r.get::<_, i64>(0))? as u64)
    };
    Ok(StatsRow {
        events_recorded: count("SELECT count(*) FROM applied_events")?,
        change_version: super::changes::current_version(c)?,
        loans_active: count("SELECT count(*) FROM loans WHERE returned_at IS NULL")?,
        notices_open: count("SELECT count(*) FROM notices WHERE acknowledged_at IS NULL")?,
        devices_online: count("SELECT count(*) FROM devices WHERE state = 'online'")?,
        devices_offline: count("SELECT count(*) FROM devices WHERE state IS NOT 'online'")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looking up one patron's or one item's loans must use an index, not read the whole
    /// loan history.
    #[test]
    fn loan_lookups_use_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::Store::open(&dir.path().join("c.db")).unwrap();
        let c = s.reader();
        for f in [
            LoanFilter {
                patron: Some("P1".into()),
                active: true,
                ..Default::default()
            },
            LoanFilter {
                patron: Some("P1".into()),
                ..Default::default()
            },
            LoanFilter {
                item: Some("KT1".into()),
                ..Default::default()
            },
            LoanFilter {
                item: Some("KT1".into()),
                active: true,
                ..Default::default()
            },
        ] {
            let sql = format!("EXPLAIN QUERY PLAN {}", loans_sql(&f));
            let mut stmt = c.prepare(&sql).unwrap();
            let plan: Vec<String> = stmt
                .query_map(params![f.patron, f.item, 10, f.branch], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|p| p.contains("INDEX")) && !plan.iter().any(|p| p == "SCAN loans"),
                "{f:?}: {plan:?}"
            );
            loans(c, &f).unwrap();
        }
        loans(
            c,
            &LoanFilter {
                limit: 5,
                ..Default::default()
            },
        )
        .unwrap();
    }
}
