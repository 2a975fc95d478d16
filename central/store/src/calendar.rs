//! A branch's calendar of closed days (besides its weekly closed weekdays): one-off
//! closures, and the public holidays of a year, Tết and Giỗ Tổ Hùng Vương from the lunar
//! calendar ([`rong_lending::lunar`]). Every change goes to the devices by delta, so that a
//! kiosk moves its due dates past the same days central does.

use chrono::{Duration, NaiveDate};
use rong_protocol::delta::{Branch, ClosedDay, LoanRule, Op};
use rong_protocol::ids::BranchId;
use rusqlite::{params, Connection};

use crate::changes::{append, Applied};
use crate::reference::put;
use crate::{Store, StoreError};

/// The longest reason for a closure.
pub const MAX_REASON_CHARS: usize = 200;

/// The most days one closure may cover.
pub const MAX_CLOSURE_DAYS: i64 = 366;

/// The public holidays of solar year `year` on which libraries close, with their reasons:
/// New Year's Day, Tết Nguyên Đán (from the last day of the lunar year to the fourth day of
/// the new one), Giỗ Tổ Hùng Vương, 30 April, 1 May and National Day (2 September).
pub fn public_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut out = Vec::new();
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    out.extend(fixed(1, 1).map(|d| (d, "Tết Dương lịch")));
    if let Some(tet) = rong_lending::lunar::tet(year) {
        for i in -1..=4 {
            out.push((tet + Duration::days(i), "Tết Nguyên Đán"));
        }
    }
    out.extend(rong_lending::lunar::hung_kings(year).map(|d| (d, "Giỗ Tổ Hùng Vương")));
    out.extend(fixed(4, 30).map(|d| (d, "Ngày Giải phóng miền Nam")));
    out.extend(fixed(5, 1).map(|d| (d, "Ngày Quốc tế Lao động")));
    out.extend(fixed(9, 2).map(|d| (d, "Quốc khánh")));
    out.sort();
    out
}

/// `branch`'s closed days from `from` to `to`, inclusive, by date.
pub fn closed_days(
    c: &Connection,
    branch: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ClosedDay>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT date, reason FROM closed_days WHERE branch = ?1 AND date BETWEEN ?2 AND ?3 \
         ORDER BY date",
    )?;
    let id = BranchId::new(branch).map_err(|e| StoreError::NotFound(e.to_string()))?;
    let rows = stmt.query_map(params![branch, from.to_string(), to.to_string()], |r| {
        let date: String = r.get(0)?;
        Ok((date, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (date, reason) = row?;
        if let Ok(date) = date.parse() {
            out.push(ClosedDay {
                branch: id.clone(),
                date,
                reason,
            });
        }
    }
    Ok(out)
}

/// The loan rules, for previews of due dates.
pub fn loan_rules(c: &Connection) -> Result<Vec<LoanRule>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT category, item_type, loan_days, max_renewals FROM loan_rules")?;
    let rows = stmt.query_map([], |r| {
        Ok(LoanRule {
            category: r.get(0)?,
            item_type: r.get(1)?,
            loan_days: r.get(2)?,
            max_renewals: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How due dates move around Tết at a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TetPreview {
    /// Tết Nguyên Đán.
    pub tet: NaiveDate,
    /// The catch-all rule's loan period (14 when there is none).
    pub loan_days: u32,
    /// For a loan made on each day before Tết: that day, the due date, and whether it was
    /// moved past a closure.
    pub rows: Vec<(NaiveDate, NaiveDate, bool)>,
}

/// The due dates of loans made at `branch` on each of the `days` days before Tết of
/// `year`, by the loan rule and the branch's closed days as they are now.
pub fn tet_preview(
    c: &Connection,
    branch: &Branch,
    year: i32,
    days: i64,
) -> Result<Option<TetPreview>, StoreError> {
    let Some(tet) = rong_lending::lunar::tet(year) else {
        return Ok(None);
    };
    let rules = loan_rules(c)?;
    let loan_days = rong_lending::find_rule(&rules, "*", "*").map_or(14, |r| r.loan_days);
    let first = tet - Duration::days(days);
    let closed = closed_days(c, branch.id.as_str(), first, tet + Duration::days(400))?;
    let rows = (1..=days)
        .rev()
        .map(|i| {
            let made = tet - Duration::days(i);
            let due = rong_lending::due_date(branch, &closed, made, loan_days);
            (
                made,
                due,
                due != made + Duration::days(i64::from(loan_days)),
            )
        })
        .collect();
    Ok(Some(TetPreview {
        tet,
        loan_days,
        rows,
    }))
}

impl Store {
    /// Closes the branches on the days given (a day already closed takes the new reason).
    pub fn add_closed_days(&mut self, days: &[ClosedDay]) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        for d in days {
            if crate::reference::branch(&tx, d.branch.as_str())?.is_none() {
                return Err(StoreError::NotFound(format!("branch {}", d.branch)));
            }
            put(&tx, Op::PutClosedDay(d.clone()), &mut applied)?;
        }
        tx.commit()?;
        Ok(applied)
    }

    /// Opens a branch again on a day it was closed.
    pub fn remove_closed_day(
        &mut self,
        branch: &BranchId,
        date: NaiveDate,
    ) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let gone = tx.execute(
            "DELETE FROM closed_days WHERE branch = ?1 AND date = ?2",
            params![branch.as_str(), date.to_string()],
        )?;
        if gone == 0 {
            return Err(StoreError::NotFound(format!(
                "closed day {date} of {branch}"
            )));
        }
        let mut applied = Applied::default();
        append(
            &tx,
            Op::DelClosedDay {
                branch: branch.clone(),
                date,
            },
            &mut applied,
        )?;
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_holidays_of_2027_include_tet_from_the_lunar_calendar() {
        let days = public_holidays(2027);
        let tet: Vec<NaiveDate> = days
            .iter()
            .filter(|(_, why)| *why == "Tết Nguyên Đán")
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(
            tet.first(),
            Some(&d(2027, 2, 5)),
            "the last day of the lunar year"
        );
        assert_eq!(
            tet.last(),
            Some(&d(2027, 2, 10)),
            "the fourth day of the new one"
        );
        assert!(days.contains(&(d(2027, 4, 16), "Giỗ Tổ Hùng Vương")));
        assert!(days.contains(&(d(2027, 9, 2), "Quốc khánh")));
        assert!(days.windows(2).all(|w| w[0].0 <= w[1].0), "by date");
    }

    #[test]
    fn closed_days_are_added_listed_and_removed_with_their_deltas() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        s.put_ops(&[Op::PutBranch(rong_tests::fixtures::branch("kontum"))])
            .unwrap();
        let kontum = BranchId::new("kontum").unwrap();
        let day = |date, reason: &str| ClosedDay {
            branch: kontum.clone(),
            date,
            reason: reason.into(),
        };
        let applied = s
            .add_closed_days(&[
                day(d(2027, 3, 1), "Kiểm kê kho"),
                day(d(2027, 3, 2), "Kiểm kê kho"),
            ])
            .unwrap();
        assert_eq!(applied.ops.len(), 2);
        let unknown = ClosedDay {
            branch: BranchId::new("nowhere").unwrap(),
            ..day(d(2027, 3, 3), "x")
        };
        assert!(matches!(
            s.add_closed_days(&[unknown]),
            Err(StoreError::NotFound(_))
        ));
        let march = closed_days(&s.conn, "kontum", d(2027, 3, 1), d(2027, 3, 31)).unwrap();
        assert_eq!(march.len(), 2);
        let applied = s.remove_closed_day(&kontum, d(2027, 3, 1)).unwrap();
        assert!(matches!(applied.ops.as_slice(), [Op::DelClosedDay { .. }]));
        assert!(matches!(
            s.remove_closed_day(&kontum, d(2027, 3, 1)),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            closed_days(&s.conn, "kontum", d(2027, 1, 1), d(2027, 12, 31)).unwrap(),
            vec![day(d(2027, 3, 2), "Kiểm kê kho")]
        );
    }
}
