//! Readers as the library registers and keeps them: what lending needs (the protocol's
//! [`Patron`], which the devices get) and what only central keeps (birth date, phone,
//! e-mail, consent to a loan history, when registered). [`ReaderInput::check`] turns what a
//! librarian typed into a [`Reader`] or a list of plain errors in Vietnamese and English.

use chrono::{Months, NaiveDate};
use rong_protocol::delta::Patron;
use rong_protocol::ids::BranchId;
use rusqlite::{params, Connection, OptionalExtension};

use crate::changes::Applied;
use crate::network::{check_name, FieldError};
use crate::reference::{put_patron, PATRON_COLS};
use crate::{Store, StoreError};

/// The longest phone number, as typed.
pub const MAX_PHONE_CHARS: usize = 20;
/// The longest e-mail address.
pub const MAX_EMAIL_CHARS: usize = 200;
/// The most NFC cards one reader may have.
pub const MAX_UIDS: usize = 4;

/// A reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// What the devices get.
    pub patron: Patron,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// Phone, as typed.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Whether the reader consented to keeping their loan history.
    pub keep_history: bool,
}

/// A reader as typed in the registration or edit form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderInput {
    /// Card number (empty: the next free one).
    pub card: String,
    /// Full name.
    pub name: String,
    /// Date of birth, `YYYY-MM-DD` (may be empty).
    pub birth_date: String,
    /// Category id.
    pub category: String,
    /// Home branch.
    pub branch: String,
    /// Phone (may be empty).
    pub phone: String,
    /// E-mail (may be empty).
    pub email: String,
    /// NFC card UIDs, separated by commas or spaces (may be empty).
    pub nfc_uids: String,
    /// Consent to a loan history.
    pub keep_history: bool,
    /// Whether the reader must always type a PIN.
    pub pin_required: bool,
}

fn err(field: &'static str, en: impl Into<String>, vi: impl Into<String>) -> FieldError {
    FieldError {
        field,
        en: en.into(),
        vi: vi.into(),
    }
}

impl ReaderInput {
    /// The reader this input describes, with `card` when the input left it empty, or every
    /// mistake. `categories` and `branches` are the known ids; `today` bounds the birth
    /// date.
    pub fn check(
        &self,
        card: &str,
        categories: &[String],
        branches: &[String],
        today: NaiveDate,
    ) -> Result<Reader, Vec<FieldError>> {
        let mut errors = Vec::new();
        let card = if self.card.trim().is_empty() {
            card.to_owned()
        } else {
            self.card.trim().to_owned()
        };
        if !rong_protocol::barcode::is_valid(&card) || card.contains(' ') {
            errors.push(err(
                "card",
                "A card number has 1 to 64 letters and digits, without spaces",
                "Số thẻ có 1 đến 64 chữ cái và chữ số, không có dấu cách",
            ));
        }
        let name = check_name("name", &self.name, false).map_err(|e| errors.push(e));
        let birth = self.birth_date.trim();
        let birth_date = if birth.is_empty() {
            None
        } else {
            match birth.parse::<NaiveDate>() {
                Ok(d) if d <= today && d >= NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) => {
                    Some(d)
                }
                _ => {
                    errors.push(err(
                        "birth_date",
                        "The date of birth is a past date",
                        "Ngày sinh phải là một ngày trong quá khứ",
                    ));
                    None
                }
            }
        };
        if !categories.contains(&self.category) {
            errors.push(err(
                "category",
                "Choose a category",
                "Vui lòng chọn loại bạn đọc",
            ));
        }
        let branch = BranchId::new(self.branch.trim())
            .ok()
            .filter(|b| branches.iter().any(|x| x == b.as_str()));
        if branch.is_none() {
            errors.push(err(
                "branch",
                "Choose the home branch",
                "Vui lòng chọn chi nhánh",
            ));
        }
        let phone = self.phone.trim();
        if phone.chars().count() > MAX_PHONE_CHARS
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
        {
            errors.push(err(
                "phone",
                format!("A phone number has digits, spaces and + - . ( ), at most {MAX_PHONE_CHARS}"),
                format!("Số điện thoại gồm chữ số, dấu cách và + - . ( ), tối đa {MAX_PHONE_CHARS} ký tự"),
            ));
        }
        let email = self.email.trim();
        let email_ok = email.is_empty()
            || (email.chars().count() <= MAX_EMAIL_CHARS
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email
                    .split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')));
        if !email_ok {
            errors.push(err(
                "email",
                "That is not an e-mail address",
                "Địa chỉ e-mail không hợp lệ",
            ));
        }
        let mut uids = Vec::new();
        for raw in self
            .nfc_uids
            .split([',', ';', ' '])
            .filter(|u| !u.trim().is_empty())
        {
            match rong_protocol::ids::normalise_uid(raw) {
                Some(uid) if !uids.contains(&uid) => uids.push(uid),
                Some(_) => {}
                None => errors.push(err(
                    "nfc_uids",
                    format!("{raw} is not an NFC card number (hexadecimal, such as 04:A2:2B:1A)"),
                    format!("{raw} không phải mã thẻ NFC (hệ 16, ví dụ 04:A2:2B:1A)"),
                )),
            }
        }
        if uids.len() > MAX_UIDS {
            errors.push(err(
                "nfc_uids",
                format!("At most {MAX_UIDS} NFC cards"),
                format!("Tối đa {MAX_UIDS} thẻ NFC"),
            ));
        }
        match (name, branch, errors.is_empty()) {
            (Ok(name), Some(branch), true) => Ok(Reader {
                patron: Patron {
                    card,
                    nfc_uids: uids,
                    name,
                    category: self.category.clone(),
                    branch,
                    blocked: None,
                    expires: None,
                    has_pin: false,
                    pin_required: self.pin_required,
                    staff: false,
                },
                birth_date,
                phone: Some(phone.to_owned()).filter(|p| !p.is_empty()),
                email: Some(email.to_owned()).filter(|e| !e.is_empty()),
                keep_history: self.keep_history,
            }),
            _ => Err(errors),
        }
    }
}

/// A reader by card.
pub fn reader(c: &Connection, card: &str) -> Result<Option<Reader>, StoreError> {
    let Some(patron) = crate::reference::patron(c, card)? else {
        return Ok(None);
    };
    let (birth, phone, email, keep): (Option<String>, Option<String>, Option<String>, bool) = c
        .prepare_cached(
            "SELECT birth_date, phone, email, keep_history FROM patrons WHERE card = ?1",
        )?
        .query_row([card], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(Some(Reader {
        patron,
        birth_date: birth.and_then(|b| b.parse().ok()),
        phone,
        email,
        keep_history: keep,
    }))
}

/// Readers whose card starts with `q` or whose name holds it (any case), of one branch or
/// all, at most `limit`, by name.
pub fn search(
    c: &Connection,
    q: &str,
    branch: Option<&str>,
    limit: usize,
) -> Result<Vec<Patron>, StoreError> {
    let like = format!("%{}%", q.trim().replace(['%', '_'], ""));
    let prefix = format!("{}%", q.trim().replace(['%', '_'], ""));
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {PATRON_COLS} FROM patrons WHERE (card LIKE ?1 OR name LIKE ?2) \
         AND (?3 IS NULL OR branch = ?3) ORDER BY name LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![prefix, like, branch, limit as i64],
        crate::reference::patron_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next card number in the `P` + six digits series.
pub fn next_card(c: &Connection) -> Result<String, StoreError> {
    let last: Option<i64> = c
        .query_row(
            "SELECT max(CAST(substr(card, 2) AS INTEGER)) FROM patrons \
             WHERE card GLOB 'P[0-9][0-9][0-9][0-9][0-9][0-9]'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(format!("P{:06}", last.unwrap_or(0) + 1))
}

/// The end of a membership of `months` counted from `from`.
pub fn membership_end(from: NaiveDate, months: u32) -> NaiveDate {
    from.checked_add_months(Months::new(months)).unwrap_or(from)
}

impl Store {
    /// Registers (`create`: a taken card is a conflict) or changes a reader, with a new PIN
    /// hash when given. A change keeps the reader's block, expiry and staff flag.
    pub fn save_reader(
        &mut self,
        r: &Reader,
        pin_hash: Option<&str>,
        create: bool,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let old = crate::reference::patron(&tx, &r.patron.card)?;
        match (&old, create) {
            (Some(_), true) => {
                return Err(StoreError::Conflict(format!(
                    "card {} is taken",
                    r.patron.card
                )))
            }
            (None, false) => return Err(StoreError::NotFound(format!("reader {}", r.patron.card))),
            _ => {}
        }
        let mut patron = r.patron.clone();
        if let Some(old) = &old {
            patron.blocked = old.blocked.clone();
            patron.staff = old.staff;
            if patron.expires.is_none() {
                patron.expires = old.expires;
            }
        }
        if patron.pin_required && pin_hash.is_none() && !old.as_ref().is_some_and(|o| o.has_pin) {
            return Err(StoreError::Conflict(
                "a reader who must type a PIN needs one".into(),
            ));
        }
        let mut applied = Applied::default();
        put_patron(&tx, &patron, pin_hash, &mut applied)?;
        tx.execute(
            "UPDATE patrons SET birth_date = ?2, phone = ?3, email = ?4, keep_history = ?5, \
             registered_at = coalesce(registered_at, ?6) WHERE card = ?1",
            params![
                patron.card,
                r.birth_date.map(|d| d.to_string()),
                r.phone,
                r.email,
                r.keep_history,
                now_ms
            ],
        )?;
        tx.commit()?;
        Ok(applied)
    }

    /// Extends a reader's membership to `until`.
    pub fn renew_membership(
        &mut self,
        card: &str,
        until: NaiveDate,
    ) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let mut patron = crate::reference::patron(&tx, card)?
            .ok_or_else(|| StoreError::NotFound(format!("reader {card}")))?;
        patron.expires = Some(until);
        let mut applied = Applied::default();
        put_patron(&tx, &patron, None, &mut applied)?;
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    fn input() -> ReaderInput {
        ReaderInput {
            card: String::new(),
            name: "Y Bhăm Ênuôl".into(),
            birth_date: "2014-05-02".into(),
            category: "child".into(),
            branch: "kontum".into(),
            phone: "0260 386 2345".into(),
            email: String::new(),
            nfc_uids: "04:a2:2b:1a".into(),
            keep_history: false,
            pin_required: false,
        }
    }

    fn known() -> (Vec<String>, Vec<String>) {
        (vec!["child".into(), "adult".into()], vec!["kontum".into()])
    }

    #[test]
    fn a_reader_as_typed_or_every_mistake() {
        let (cats, branches) = known();
        let r = input().check("P000001", &cats, &branches, today()).unwrap();
        assert_eq!(r.patron.card, "P000001", "the next card when none is given");
        assert_eq!(r.patron.nfc_uids, vec!["04A22B1A".to_owned()]);
        assert_eq!(r.phone.as_deref(), Some("0260 386 2345"));
        assert!(r.email.is_none());
        let bad = ReaderInput {
            card: "P 1".into(),
            name: String::new(),
            birth_date: "2030-01-01".into(),
            category: "alien".into(),
            branch: "hanoi".into(),
            phone: "call me".into(),
            email: "not-an-address".into(),
            nfc_uids: "zz".into(),
            ..input()
        };
        let fields: Vec<&str> = bad
            .check("P000001", &cats, &branches, today())
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "card",
                "name",
                "birth_date",
                "category",
                "branch",
                "phone",
                "email",
                "nfc_uids"
            ]
        );
    }

    #[test]
    fn readers_are_registered_found_changed_and_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        s.put_ops(&[rong_protocol::delta::Op::PutBranch(
            rong_tests::fixtures::branch("kontum"),
        )])
        .unwrap();
        assert_eq!(next_card(&s.conn).unwrap(), "P000001");
        let (cats, branches) = known();
        let mut r = input().check("P000001", &cats, &branches, today()).unwrap();
        r.patron.expires = Some(membership_end(today(), 12));
        let applied = s.save_reader(&r, Some("$argon2id$x"), true, 1).unwrap();
        assert_eq!(applied.ops.len(), 1, "the devices hear of the reader");
        assert!(matches!(
            s.save_reader(&r, None, true, 2),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(next_card(&s.conn).unwrap(), "P000002");
        let back = reader(&s.conn, "P000001").unwrap().unwrap();
        assert!(back.patron.has_pin);
        assert_eq!(back.birth_date, r.birth_date);
        assert_eq!(back.patron.expires, NaiveDate::from_ymd_opt(2027, 12, 4));
        assert_eq!(search(&s.conn, "bhăm", None, 10).unwrap().len(), 1);
        assert_eq!(
            search(&s.conn, "P0000", Some("kontum"), 10).unwrap().len(),
            1
        );
        assert!(search(&s.conn, "P0000", Some("dakto"), 10)
            .unwrap()
            .is_empty());

        // A change keeps the block and the expiry.
        s.set_block("P000001", Some("Mất sách")).unwrap();
        let mut changed = r.clone();
        changed.patron.expires = None;
        changed.email = Some("bham@example.vn".into());
        s.save_reader(&changed, None, false, 3).unwrap();
        let back = reader(&s.conn, "P000001").unwrap().unwrap();
        assert_eq!(back.patron.blocked.as_deref(), Some("Mất sách"));
        assert_eq!(back.patron.expires, NaiveDate::from_ymd_opt(2027, 12, 4));
        assert_eq!(back.email.as_deref(), Some("bham@example.vn"));
        s.renew_membership("P000001", NaiveDate::from_ymd_opt(2028, 12, 4).unwrap())
            .unwrap();
        assert_eq!(
            crate::reference::patron(&s.conn, "P000001")
                .unwrap()
                .unwrap()
                .expires,
            NaiveDate::from_ymd_opt(2028, 12, 4)
        );
        // A reader who must type a PIN needs one.
        let mut strict = input().check("P000009", &cats, &branches, today()).unwrap();
        strict.patron.pin_required = true;
        assert!(matches!(
            s.save_reader(&strict, None, true, 4),
            Err(StoreError::Conflict(_))
        ));
    }
}
