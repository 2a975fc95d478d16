//! Due dates: the loan rule for a category and item type, the branch's calendar, and the
//! date a checkout or renewal gives. Central and the devices must compute these alike.

use chrono::{Datelike, Duration, NaiveDate};
use rong_protocol::delta::{Branch, ClosedDay, LoanRule};

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

/// The due date of a loan counted from `from`: `loan_days` later, moved forward past
/// closed days.
///
/// Gives up moving after a year of closed days, so a misconfigured calendar cannot hang it.
pub fn due_date(
    branch: &Branch,
    closed: &[ClosedDay],
    from: NaiveDate,
    loan_days: u32,
) -> NaiveDate {
    let mut due = from + Duration::days(i64::from(loan_days));
    for _ in 0..366 {
        if is_open(branch, closed, due) {
            return due;
        }
        due += Duration::days(1);
    }
    due
}

/// The day a renewal counts from: the current due date, or today if that is later. So a
/// reader who renews early does not lose days, and every renewal moves the date on.
pub fn renewal_start(due: NaiveDate, today: NaiveDate) -> NaiveDate {
    due.max(today)
}

/// The reference data a lending decision needs, as of one day.
#[derive(Debug, Clone, Copy)]
pub struct LendingContext<'a> {
    /// Today, local date.
    pub today: NaiveDate,
    /// The branch lending (a device's own branch; at central, the event's).
    pub branch: &'a Branch,
    /// Closed days (any branch's; only this branch's count).
    pub closed: &'a [ClosedDay],
    /// All loan rules.
    pub rules: &'a [LoanRule],
}

impl<'a> LendingContext<'a> {
    /// The rule for a category and item type ([`find_rule`]).
    pub fn rule(&self, category: &str, item_type: &str) -> Option<&'a LoanRule> {
        find_rule(self.rules, category, item_type)
    }

    /// The due date of a loan made today under `rule`.
    pub fn checkout_due(&self, rule: &LoanRule) -> NaiveDate {
        due_date(self.branch, self.closed, self.today, rule.loan_days)
    }

    /// The due date a renewal today under `rule` gives a loan now due on `due`.
    pub fn renewal_due(&self, rule: &LoanRule, due: NaiveDate) -> NaiveDate {
        due_date(
            self.branch,
            self.closed,
            renewal_start(due, self.today),
            rule.loan_days,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{branch, d, rules, tet};
    use rong_protocol::BranchId;

    #[test]
    fn due_skips_closed_days() {
        let b = branch("kontum");
        let tet = tet(&b);
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
        assert!(!is_open(&b, &tet, d(2027, 2, 21)), "a Sunday");
        assert!(is_open(&other, &tet, d(2027, 2, 16)));
    }

    #[test]
    fn a_calendar_closed_for_ever_still_gives_a_date() {
        let mut b = branch("kontum");
        b.closed_weekdays = (1..=7).collect();
        assert_eq!(
            due_date(&b, &[], d(2026, 11, 25), 14),
            d(2026, 12, 9) + Duration::days(366)
        );
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

    #[test]
    fn checkout_and_renewal_dates() {
        let b = branch("kontum");
        let r = rules();
        let ctx = LendingContext {
            today: d(2026, 11, 25),
            branch: &b,
            closed: &[],
            rules: &r,
        };
        let rule = ctx.rule("adult", "book").unwrap();
        assert_eq!(ctx.checkout_due(rule), d(2026, 12, 9));
        // Renewed early: from the due date. Renewed when due today or (at central) late:
        // from today.
        assert_eq!(ctx.renewal_due(rule, d(2026, 11, 30)), d(2026, 12, 14));
        assert_eq!(ctx.renewal_due(rule, d(2026, 11, 25)), d(2026, 12, 9));
        assert_eq!(ctx.renewal_due(rule, d(2026, 11, 1)), d(2026, 12, 9));
        assert_eq!(
            renewal_start(d(2026, 11, 1), d(2026, 11, 25)),
            d(2026, 11, 25)
        );
    }
}
