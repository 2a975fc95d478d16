//! The network a central serves, as its administrators set it up: its name, and its
//! branches with their names in Vietnamese and English, address and opening hours.
//!
//! A branch's opening hours decide the weekdays it is closed, which the devices get in the
//! protocol's [`Branch`] (with its Vietnamese name and PIN rule); the rest stays at
//! central. [`BranchInput::check`] turns what a person typed into a [`BranchDetails`] or a
//! list of plain errors in Vietnamese and English, so the dashboard and `central init`
//! refuse bad input alike and save nothing.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use rong_protocol::delta::{Branch, Category, LoanRule, Op};
use rong_protocol::ids::BranchId;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::changes::Applied;
use crate::reference::{branch_row, put, BRANCH_COLS};
use crate::{Store, StoreError};

/// The longest branch or network name.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest address.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// The most opening spans in a day.
pub const MAX_SPANS: usize = 4;

/// One opening span of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// Opens.
    pub open: NaiveTime,
    /// Closes (after it opens).
    pub close: NaiveTime,
}

/// Opening hours for each ISO weekday (1 = Monday … 7 = Sunday); a weekday with no span is
/// closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekHours(pub BTreeMap<u8, Vec<Span>>);

impl WeekHours {
    /// The spans of `weekday`.
    pub fn day(&self, weekday: u8) -> &[Span] {
        self.0.get(&weekday).map_or(&[], Vec::as_slice)
    }

    /// The weekdays with no opening span.
    pub fn closed_weekdays(&self) -> Vec<u8> {
        (1..=7).filter(|d| self.day(*d).is_empty()).collect()
    }

    /// A day as people type it: `07:30-11:30, 13:30-17:00`; empty when closed.
    pub fn day_text(&self, weekday: u8) -> String {
        self.day(weekday)
            .iter()
            .map(|s| format!("{}-{}", s.open.format("%H:%M"), s.close.format("%H:%M")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A branch as central keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchDetails {
    /// What the devices get: code, Vietnamese name, closed weekdays, PIN rule.
    pub branch: Branch,
    /// The name in English.
    pub name_en: String,
    /// The address.
    pub address: String,
    /// Opening hours.
    pub hours: WeekHours,
}

/// A mistake in what was typed, for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field.
    pub field: &'static str,
    /// In English.
    pub en: String,
    /// In Vietnamese.
    pub vi: String,
}

impl FieldError {
    fn new(field: &'static str, en: impl Into<String>, vi: impl Into<String>) -> FieldError {
        FieldError {
            field,
            en: en.into(),
            vi: vi.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.en)
    }
}

/// A branch as typed in a form or on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BranchInput {
    /// The code (`kontum`, `dakto`): lower-case letters, digits and dashes.
    pub code: String,
    /// The name in Vietnamese.
    pub name_vi: String,
    /// The name in English (may be empty).
    #[serde(default)]
    pub name_en: String,
    /// The address (may be empty).
    #[serde(default)]
    pub address: String,
    /// Opening hours per ISO weekday, as typed (`07:30-11:30, 13:30-17:00`; empty: closed).
    #[serde(default)]
    pub hours: [String; 7],
    /// Whether every reader must type a PIN at this branch's kiosks.
    #[serde(default)]
    pub require_pin: bool,
}

/// Parses one day's spans: `07:30-11:30, 13:30-17:00` (also `7h30-11h30`, `8-12`, `;`
/// between). A mistake answers the span as typed, quoted.
fn parse_day(text: &str) -> Result<Vec<Span>, String> {
    let time = |t: &str| {
        let t = t.trim().replace(['h', 'H', '.'], ":");
        let t = if t.ends_with(':') {
            format!("{t}00")
        } else if !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()) {
            format!("{t}:00")
        } else {
            t
        };
        NaiveTime::parse_from_str(&t, "%H:%M").ok()
    };
    let mut spans = Vec::new();
    for part in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let span = part
            .split_once(['-', '–'])
            .and_then(|(a, b)| Some((time(a)?, time(b)?)))
            .filter(|(open, close)| close > open);
        let Some((open, close)) = span else {
            return Err(format!("\"{part}\""));
        };
        spans.push(Span { open, close });
    }
    spans.sort();
    if spans.windows(2).any(|w| w[1].open < w[0].close) {
        return Err(text.trim().to_owned());
    }
    Ok(spans)
}

const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEKDAYS_VI: [&str; 7] = [
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
    "Chủ nhật",
];

/// The field name of weekday `i` (0 = Monday).
pub const HOURS_FIELDS: [&str; 7] = [
    "hours_1", "hours_2", "hours_3", "hours_4", "hours_5", "hours_6", "hours_7",
];

/// Checks a name: trimmed, 1 to [`MAX_NAME_CHARS`] characters (0 allowed when `optional`),
/// no control characters.
pub fn check_name(field: &'static str, text: &str, optional: bool) -> Result<String, FieldError> {
    let t = text.trim();
    if t.is_empty() && !optional {
        return Err(FieldError::new(
            field,
            "Please give a name",
            "Vui lòng nhập tên",
        ));
    }
    if t.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            field,
            format!("At most {MAX_NAME_CHARS} characters"),
            format!("Tối đa {MAX_NAME_CHARS} ký tự"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "No line breaks or control characters",
            "Không được xuống dòng hay dùng ký tự điều khiển",
        ));
    }
    Ok(t.to_owned())
}

impl BranchInput {
    /// The branch this input describes, or every mistake in it.
    pub fn check(&self) -> Result<BranchDetails, Vec<FieldError>> {
        let mut errors = Vec::new();
        let code = self.code.trim();
        let id = match BranchId::new(code) {
            Ok(id) if code.len() <= 32 => Some(id),
            _ => {
                errors.push(FieldError::new(
                    "code",
                    "The code has 1 to 32 lower-case letters, digits and dashes, such as kontum or dakto",
                    "Mã có 1 đến 32 chữ thường không dấu, chữ số và dấu gạch ngang, ví dụ kontum hoặc dakto",
                ));
                None
            }
        };
        let name = check_name("name_vi", &self.name_vi, false).map_err(|e| errors.push(e));
        let name_en = check_name("name_en", &self.name_en, true).map_err(|e| errors.push(e));
        let address = self.address.trim();
        if address.chars().count() > MAX_ADDRESS_CHARS {
            errors.push(FieldError::new(
                "address",
                format!("At most {MAX_ADDRESS_CHARS} characters"),
                format!("Tối đa {MAX_ADDRESS_CHARS} ký tự"),
            ));
        }
        let mut hours = WeekHours::default();
        for (i, text) in self.hours.iter().enumerate() {
            match parse_day(text) {
                Ok(spans) if spans.len() > MAX_SPANS => errors.push(FieldError::new(
                    HOURS_FIELDS[i],
                    format!("{}: at most {MAX_SPANS} opening spans", WEEKDAYS_EN[i]),
                    format!("{}: tối đa {MAX_SPANS} khoảng giờ mở cửa", WEEKDAYS_VI[i]),
                )),
                Ok(spans) if spans.is_empty() => {}
                Ok(spans) => {
                    hours.0.insert(i as u8 + 1, spans);
                }
                Err(bad) => errors.push(FieldError::new(
                    HOURS_FIELDS[i],
                    format!(
                        "{}: {bad} is not opening hours; write them like 07:30-11:30, 13:30-17:00, or leave the day empty when closed",
                        WEEKDAYS_EN[i]
                    ),
                    format!(
                        "{}: {bad} không phải giờ mở cửa; vui lòng viết như 07:30-11:30, 13:30-17:00, hoặc để trống nếu ngày đó đóng cửa",
                        WEEKDAYS_VI[i]
                    ),
                )),
            }
        }
        if errors.is_empty() && hours.0.is_empty() {
            errors.push(FieldError::new(
                HOURS_FIELDS[0],
                "A branch must open on at least one day",
                "Chi nhánh phải mở cửa ít nhất một ngày trong tuần",
            ));
        }
        match (id, name, name_en, errors.is_empty()) {
            (Some(id), Ok(name), Ok(name_en), true) => Ok(BranchDetails {
                branch: Branch {
                    id,
                    name,
                    closed_weekdays: hours.closed_weekdays(),
                    require_pin: self.require_pin,
                },
                name_en,
                address: address.to_owned(),
                hours,
            }),
            _ => Err(errors),
        }
    }
}

fn details_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BranchDetails> {
    let branch = branch_row(r)?;
    let hours: String = r.get(6)?;
    Ok(BranchDetails {
        branch,
        name_en: r.get(4)?,
        address: r.get(5)?,
        hours: serde_json::from_str(&hours).unwrap_or_default(),
    })
}

/// Every branch, by code.
pub fn branches(c: &Connection) -> Result<Vec<BranchDetails>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {BRANCH_COLS}, name_en, address, hours FROM branches ORDER BY id"
    ))?;
    let rows = stmt.query_map([], details_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One branch, if known.
pub fn branch(c: &Connection, id: &str) -> Result<Option<BranchDetails>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {BRANCH_COLS}, name_en, address, hours FROM branches WHERE id = ?1"
    ))?
    .query_row(params![id], details_row)
    .optional()?)
}

/// The network's name, once set.
pub fn name(c: &Connection) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT value FROM network WHERE key = 'name'")?
            .query_row([], |r| r.get(0))
            .optional()?,
    )
}

/// Whether this central has not been set up yet: no dashboard user at all.
pub fn is_fresh(c: &Connection) -> Result<bool, StoreError> {
    let users: i64 = c.query_row("SELECT count(*) FROM admin_users", [], |r| r.get(0))?;
    Ok(users == 0)
}

/// Writes a branch in `c`: the protocol part through the change log (the devices get it by
/// delta), the rest beside it.
fn write_branch(
    c: &Connection,
    d: &BranchDetails,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    put(c, Op::PutBranch(d.branch.clone()), applied)?;
    let hours = serde_json::to_string(&d.hours)?;
    c.prepare_cached("UPDATE branches SET name_en = ?2, address = ?3, hours = ?4 WHERE id = ?1")?
        .execute(params![d.branch.id.as_str(), d.name_en, d.address, hours])?;
    Ok(())
}

/// The reader categories a fresh network starts with (id, name, most loans at once), for
/// the administrator to change: children, school and university students, adults, and the
/// library's own staff.
pub const FIRST_CATEGORIES: [(&str, &str, u32); 4] = [
    ("child", "Thiếu nhi", 3),
    ("student", "Học sinh, sinh viên", 5),
    ("adult", "Người lớn", 5),
    ("staff", "Cán bộ thư viện", 10),
];

/// The loan rule a fresh network starts with, for every category and item type: 14 days,
/// renewable twice.
pub const FIRST_RULE: (u32, u32) = (14, 2);

/// The first administrator of a fresh central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAdmin {
    /// User name.
    pub name: String,
    /// Argon2id hash of the password.
    pub password_hash: String,
}

impl Store {
    /// Adds a branch (`create`: a taken code is a conflict) or changes one (`!create`: an
    /// unknown code is not found). Answers the change-log ops, for the devices.
    pub fn save_branch(&mut self, d: &BranchDetails, create: bool) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let exists = crate::reference::branch(&tx, d.branch.id.as_str())?.is_some();
        if create && exists {
            return Err(StoreError::Conflict(format!(
                "a branch with code {} already exists",
                d.branch.id
            )));
        }
        if !create && !exists {
            return Err(StoreError::NotFound(format!("branch {}", d.branch.id)));
        }
        let mut applied = Applied::default();
        write_branch(&tx, d, &mut applied)?;
        tx.commit()?;
        Ok(applied)
    }

    /// Names the network.
    pub fn set_network_name(&mut self, name: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO network (key, value) VALUES ('name', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![name],
        )?;
        Ok(())
    }

    /// Sets up a fresh central in one transaction: its first administrator, the network's
    /// name, its first branch, and (when it has none) the [`FIRST_CATEGORIES`] and the
    /// [`FIRST_RULE`], so that its kiosks can lend at once. A central that has any dashboard
    /// user already is a conflict, and nothing is written.
    pub fn init_network(
        &mut self,
        admin: &FirstAdmin,
        network: &str,
        first: &BranchDetails,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        if !is_fresh(&tx)? {
            return Err(StoreError::Conflict(
                "this central is set up already (it has dashboard users)".into(),
            ));
        }
        let mut applied = Applied::default();
        write_branch(&tx, first, &mut applied)?;
        let categories: i64 = tx.query_row("SELECT count(*) FROM categories", [], |r| r.get(0))?;
        if categories == 0 {
            for (id, name, max_loans) in FIRST_CATEGORIES {
                let category = Category {
                    id: id.into(),
                    name: name.into(),
                    max_loans,
                };
                put(&tx, Op::PutCategory(category), &mut applied)?;
            }
            let rule = LoanRule {
                category: "*".into(),
                item_type: "*".into(),
                loan_days: FIRST_RULE.0,
                max_renewals: FIRST_RULE.1,
            };
            put(&tx, Op::PutRule(rule), &mut applied)?;
        }
        tx.execute(
            "INSERT INTO network (key, value) VALUES ('name', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![network],
        )?;
        tx.execute(
            "INSERT INTO admin_users (name, password_hash, role, branch, created_at) \
             VALUES (?1, ?2, 'admin', NULL, ?3)",
            params![admin.name, admin.password_hash, now_ms],
        )?;
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BranchInput {
        BranchInput {
            code: "kontum".into(),
            name_vi: " Thư viện tỉnh Kon Tum ".into(),
            name_en: "Kon Tum Provincial Library".into(),
            address: "Số 1 Trần Phú, TP. Kon Tum".into(),
            hours: [
                "07:30-11:30, 13:30-17:00".into(),
                "7h30-11h30; 13h30-17h".into(),
                "7-11".into(),
                String::new(),
                "07:30 – 11:30".into(),
                "08:00-12:00".into(),
                String::new(),
            ],
            require_pin: false,
        }
    }

    #[test]
    fn a_branch_as_typed_becomes_what_devices_get_and_what_central_keeps() {
        let d = input().check().unwrap();
        assert_eq!(d.branch.id.as_str(), "kontum");
        assert_eq!(d.branch.name, "Thư viện tỉnh Kon Tum", "trimmed");
        assert_eq!(d.branch.closed_weekdays, vec![4, 7]);
        assert_eq!(d.hours.day_text(1), "07:30-11:30, 13:30-17:00");
        assert_eq!(
            d.hours.day_text(2),
            "07:30-11:30, 13:30-17:00",
            "7h30 reads too"
        );
        assert_eq!(d.hours.day_text(3), "07:00-11:00", "whole hours read too");
        assert_eq!(d.hours.day_text(5), "07:30-11:30", "an en dash reads too");
        assert_eq!(d.hours.day_text(7), "");
    }

    #[test]
    fn every_mistake_is_named_in_both_languages() {
        let bad = BranchInput {
            code: "Kon Tum".into(),
            name_vi: "   ".into(),
            name_en: "x".repeat(MAX_NAME_CHARS + 1),
            address: "y".repeat(MAX_ADDRESS_CHARS + 1),
            hours: [
                "17:00-07:30".into(),
                "sáng-chiều".into(),
                "07:00-11:00, 10:00-12:00".into(),
                "01:00-02:00, 03:00-04:00, 05:00-06:00, 07:00-08:00, 09:00-10:00".into(),
                String::new(),
                String::new(),
                String::new(),
            ],
            require_pin: false,
        };
        let errors = bad.check().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["code", "name_vi", "name_en", "address", "hours_1", "hours_2", "hours_3", "hours_4"]
        );
        assert!(errors.iter().all(|e| !e.en.is_empty() && !e.vi.is_empty()));
        assert!(errors[4].vi.starts_with("Thứ Hai"), "{}", errors[4].vi);
        let never_open = BranchInput {
            hours: Default::default(),
            ..input()
        };
        assert_eq!(never_open.check().unwrap_err()[0].field, "hours_1");
        let control = BranchInput {
            name_vi: "Thư viện\nKon Tum".into(),
            ..input()
        };
        assert_eq!(control.check().unwrap_err()[0].field, "name_vi");
    }

    #[test]
    fn a_fresh_central_is_set_up_once_and_branches_are_saved_with_their_delta() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        assert!(is_fresh(&s.conn).unwrap());
        let first = input().check().unwrap();
        let admin = FirstAdmin {
            name: "quantri".into(),
            password_hash: "$argon2id$x".into(),
        };
        let applied = s
            .init_network(&admin, "Thư viện tỉnh Kon Tum", &first, 1_000)
            .unwrap();
        assert!(matches!(applied.ops.first(), Some(Op::PutBranch(b)) if b.id.as_str() == "kontum"));
        assert_eq!(
            applied.ops.len(),
            1 + FIRST_CATEGORIES.len() + 1,
            "categories and a rule"
        );
        assert!(!is_fresh(&s.conn).unwrap());
        assert_eq!(
            name(&s.conn).unwrap().as_deref(),
            Some("Thư viện tỉnh Kon Tum")
        );
        assert_eq!(branch(&s.conn, "kontum").unwrap().unwrap(), first);
        assert!(matches!(
            s.init_network(&admin, "again", &first, 2_000),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            name(&s.conn).unwrap().as_deref(),
            Some("Thư viện tỉnh Kon Tum")
        );

        let mut second = BranchInput {
            code: "dakto".into(),
            name_vi: "Thư viện huyện Đăk Tô".into(),
            ..input()
        }
        .check()
        .unwrap();
        assert!(matches!(
            s.save_branch(&second, false),
            Err(StoreError::NotFound(_))
        ));
        s.save_branch(&second, true).unwrap();
        assert!(matches!(
            s.save_branch(&second, true),
            Err(StoreError::Conflict(_))
        ));
        second.address = "Thị trấn Đăk Tô".into();
        second.branch.require_pin = true;
        let applied = s.save_branch(&second, false).unwrap();
        assert!(matches!(applied.ops.as_slice(), [Op::PutBranch(b)] if b.require_pin));
        assert_eq!(branch(&s.conn, "dakto").unwrap().unwrap(), second);
        assert_eq!(branches(&s.conn).unwrap().len(), 2);
    }
}
