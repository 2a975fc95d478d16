//! Dates and the due-date rule, which central and devices must compute alike.

use chrono::{Datelike, Duration, NaiveDate};

use crate::delta::{Branch, ClosedDay, LoanRule};

/// The library's local offset from UTC in minutes (Việt Nam: +7 h, no daylight saving).
pub const DEFAULT_UTC_OFFSET_MIN: i32 = 7 * 60;

/// The local calendar date of an instant given in ms since the epoch.
pub fn local_date(at_ms: i64, utc_offset_min: i32) -> NaiveDate {
    let secs = at_ms.div_euclid(1000) + i64::from(utc_offset_min) * 60;
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// Finds the rule for a category and item type: exact, then category with any type, then
/// any category with the type, then the catch-all.
pub fn find_rule<'a>(
    rules: &'a [LoanRule],
    category: &str,
    item_type: &str,
) -> Option<&'a LoanRule> {
    let pick = |c: &str, t: &str| rules.iter().find(|r| r.category == c && r.item_type == t);
    pick(category, item_type)
        .or_else(|| pick(category, "*"))
        .or_else(|| pick("*", item_type))
        .or_else(|| pick("*", "*"))
}

/// Whether a branch is open on a day.
pub fn is_open(branch: &Branch, closed: &[ClosedDay], day: NaiveDate) -> bool {
    let weekday = day.weekday().number_from_monday() as u8;
    !branch.closed_weekdays.contains(&weekday)
        && !closed
            .iter()
            .any(|c| c.branch == branch.id && c.date == day)
}

/// The due date of a loan made on `today`: `loan_days` later, moved forward past closed days.
///
/// Gives up moving after a year of closed days, so a misconfigured calendar cannot hang it.
pub fn due_date(
    branch: &Branch,
    closed: &[ClosedDay],
    today: NaiveDate,
    loan_days: u32,
) -> NaiveDate {
    let mut due = today + Duration::days(i64::from(loan_days));
    for _ in 0..366 {
        if is_open(branch, closed, due) {
            return due;
        }
        due += Duration::days(1);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BranchId;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn local_dates() {
        // 2026-11-25 18:00 UTC is already the 26th in Kon Tum.
        let at = chrono::NaiveDateTime::new(
            d(2026, 11, 25),
            chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        )
        .and_utc()
        .timestamp_millis();
        assert_eq!(local_date(at, DEFAULT_UTC_OFFSET_MIN), d(2026, 11, 26));
        assert_eq!(local_date(at, 0), d(2026, 11, 25));
    }

    #[test]
    fn due_skips_closed_days() {
        let b = Branch {
            id: BranchId::new("kontum").unwrap(),
            name: "Thư viện tỉnh Kon Tum".into(),
            closed_weekdays: vec![7],
            require_pin: false,
        };
        let tet: Vec<ClosedDay> = (16..=20)
            .map(|day| ClosedDay {
                branch: b.id.clone(),
                date: d(2027, 2, day),
                reason: "Tết Nguyên Đán".into(),
            })
            .collect();
        // 14 days from Tue 2 Feb 2027 is Tue 16 Feb, inside Tết (16–20); 21 Feb is a Sunday.
        assert_eq!(due_date(&b, &tet, d(2027, 2, 2), 14), d(2027, 2, 22));
        // An open day stays put.
        assert_eq!(due_date(&b, &tet, d(2026, 11, 25), 14), d(2026, 12, 9));
        // Another branch's closed days do not count.
        let other = Branch {
            id: BranchId::new("dakto").unwrap(),
            ..b.clone()
        };
        assert_eq!(due_date(&other, &tet, d(2027, 2, 2), 14), d(2027, 2, 16));
    }

    #[test]
    fn rule_lookup() {
        let r = |c: &str, t: &str, days| LoanRule {
            category: c.into(),
            item_type: t.into(),
            loan_days: days,
            max_renewals: 2,
        };
        let rules = vec![
            r("*", "*", 14),
            r("child", "*", 7),
            r("*", "reference", 0),
            r("adult", "serial", 3),
        ];
        assert_eq!(find_rule(&rules, "adult", "serial").unwrap().loan_days, 3);
        assert_eq!(find_rule(&rules, "child", "book").unwrap().loan_days, 7);
        assert_eq!(
            find_rule(&rules, "adult", "reference").unwrap().loan_days,
            0
        );
        assert_eq!(find_rule(&rules, "adult", "book").unwrap().loan_days, 14);
        assert!(find_rule(&[], "adult", "book").is_none());
    }
}
