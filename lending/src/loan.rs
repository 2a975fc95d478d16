//! Checkout, checkin and renew, decided offline from the cached reference data; and the
//! time an event is logged at.

use rong_protocol::api::ErrorCode;
use rong_protocol::delta::{Category, Item, ItemStatus, Loan, LoanRule, Patron};
use rong_protocol::BranchId;

use crate::due::LendingContext;
use crate::refusal::Refusal;

/// Whether a patron holding `held` loans may take one more under a limit of `max`.
pub fn under_limit(held: u32, max: u32) -> bool {
    held < max
}

/// A checkout the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutPlan {
    /// The new loan.
    pub loan: Loan,
    /// The patron who held the item before, if anyone (a missed return).
    pub previous_patron: Option<String>,
}

/// The rule an item lends under, refusing an item that is not on the shelf or that no
/// rule lends.
fn rule_for<'a>(
    ctx: &LendingContext<'a>,
    patron: &Patron,
    item: &Item,
) -> Result<&'a LoanRule, Refusal> {
    if item.status != ItemStatus::Available {
        return Err(Refusal::new(
            ErrorCode::NotForLoan,
            format!("item status {:?}", item.status),
        ));
    }
    match ctx.rule(&patron.category, &item.item_type) {
        Some(r) if r.loan_days > 0 => Ok(r),
        _ => Err(Refusal::new(ErrorCode::NotForLoan, "no loan rule")),
    }
}

/// Decides a checkout. `patron` has passed [`crate::check_patron`] and the PIN;
/// `patron_loans` is how many loans the patron holds now.
pub fn checkout(
    ctx: &LendingContext<'_>,
    patron: &Patron,
    category: Option<&Category>,
    item: Option<&Item>,
    current: Option<&Loan>,
    patron_loans: u32,
) -> Result<CheckoutPlan, Refusal> {
    let item = item.ok_or_else(|| Refusal::new(ErrorCode::UnknownItem, ""))?;
    let rule = rule_for(ctx, patron, item)?;
    if current.is_some_and(|l| l.patron == patron.card) {
        return Err(Refusal::new(ErrorCode::AlreadyOnLoan, ""));
    }
    // A category the device does not know lends nothing.
    let max = category.map_or(0, |c| c.max_loans);
    if !under_limit(patron_loans, max) {
        return Err(Refusal::new(
            ErrorCode::LoanLimit,
            format!("{patron_loans} of {max}"),
        ));
    }
    Ok(CheckoutPlan {
        loan: Loan {
            item: item.barcode.clone(),
            patron: patron.card.clone(),
            due: ctx.checkout_due(rule),
            renewals: 0,
        },
        previous_patron: current.map(|l| l.patron.clone()),
    })
}

/// What a checkin does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinPlan {
    /// Whether the item was on loan here.
    pub was_on_loan: bool,
    /// Who had it.
    pub patron: Option<String>,
    /// The branch to send it to, when it belongs elsewhere.
    pub transfer_to: Option<BranchId>,
}

/// Decides a checkin: always accepted.
pub fn checkin(item: Option<&Item>, current: Option<&Loan>, here: &BranchId) -> CheckinPlan {
    CheckinPlan {
        was_on_loan: current.is_some(),
        patron: current.map(|l| l.patron.clone()),
        transfer_to: item
            .filter(|i| &i.home_branch != here)
            .map(|i| i.home_branch.clone()),
    }
}

/// Decides a renewal. `patron` has passed [`crate::check_patron`] and the PIN.
pub fn renew(
    ctx: &LendingContext<'_>,
    patron: &Patron,
    item: Option<&Item>,
    current: Option<&Loan>,
) -> Result<Loan, Refusal> {
    let loan = current
        .filter(|l| l.patron == patron.card)
        .ok_or_else(|| Refusal::new(ErrorCode::NotOnLoan, ""))?;
    let item = item.ok_or_else(|| Refusal::new(ErrorCode::UnknownItem, ""))?;
    if loan.due < ctx.today {
        return Err(Refusal::new(
            ErrorCode::Overdue,
            format!("due {}", loan.due),
        ));
    }
    let rule = rule_for(ctx, patron, item)?;
    if loan.renewals >= rule.max_renewals {
        return Err(Refusal::new(
            ErrorCode::RenewLimit,
            format!("{} of {}", loan.renewals, rule.max_renewals),
        ));
    }
    Ok(Loan {
        item: loan.item.clone(),
        patron: loan.patron.clone(),
        due: ctx.renewal_due(rule, loan.due),
        renewals: loan.renewals + 1,
    })
}

/// An event's time: never behind the last event in the log.
pub fn event_time(now_ms: i64, last_at: Option<i64>) -> i64 {
    last_at.map_or(now_ms, |l| now_ms.max(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{branch, cat, d, item, loan, patron, rules, tet};
    use rong_protocol::delta::{Branch, ClosedDay};

    fn ctx<'a>(
        b: &'a Branch,
        closed: &'a [ClosedDay],
        rules: &'a [LoanRule],
    ) -> LendingContext<'a> {
        LendingContext {
            today: d(2026, 11, 25),
            branch: b,
            closed,
            rules,
        }
    }

    /// Kontum's rules on 25 November 2026, with no closed days: patron P0001 and
    /// Kontum's available book KT1.
    struct Kontum {
        branch: Branch,
        rules: Vec<LoanRule>,
        patron: Patron,
        item: Item,
    }

    impl Kontum {
        fn new() -> Self {
            Self {
                branch: branch("kontum"),
                rules: rules(),
                patron: patron(),
                item: item("KT1", "kontum"),
            }
        }

        fn ctx(&self) -> LendingContext<'_> {
            ctx(&self.branch, &[], &self.rules)
        }
    }

    #[test]
    fn checkout_rules() {
        let k = Kontum::new();
        let (c, p, it) = (k.ctx(), &k.patron, &k.item);
        let plan = checkout(&c, p, Some(&cat(5)), Some(it), None, 0).unwrap();
        assert_eq!(plan.loan.due, d(2026, 12, 9));
        assert_eq!(plan.loan.renewals, 0);
        assert_eq!(plan.previous_patron, None);

        let code = |res: Result<CheckoutPlan, Refusal>| res.unwrap_err().code;
        assert_eq!(
            code(checkout(&c, p, Some(&cat(5)), None, None, 0)),
            ErrorCode::UnknownItem
        );
        for status in [
            ItemStatus::NotForLoan,
            ItemStatus::Lost,
            ItemStatus::Withdrawn,
        ] {
            let it = Item {
                status,
                ..item("KT1", "kontum")
            };
            assert_eq!(
                code(checkout(&c, p, Some(&cat(5)), Some(&it), None, 0)),
                ErrorCode::NotForLoan
            );
        }
        let reference = Item {
            item_type: "reference".into(),
            ..item("KT1", "kontum")
        };
        assert_eq!(
            code(checkout(&c, p, Some(&cat(5)), Some(&reference), None, 0)),
            ErrorCode::NotForLoan,
            "loan_days 0"
        );
        assert_eq!(
            code(checkout(
                &ctx(&k.branch, &[], &[]),
                p,
                Some(&cat(5)),
                Some(it),
                None,
                0
            )),
            ErrorCode::NotForLoan,
            "no rule at all"
        );
        let mine = loan("P0001", d(2026, 12, 1), 0);
        assert_eq!(
            code(checkout(&c, p, Some(&cat(5)), Some(it), Some(&mine), 1)),
            ErrorCode::AlreadyOnLoan
        );
        assert_eq!(
            code(checkout(&c, p, Some(&cat(5)), Some(it), None, 5)),
            ErrorCode::LoanLimit
        );
        assert_eq!(
            code(checkout(&c, p, None, Some(it), None, 0)),
            ErrorCode::LoanLimit,
            "unknown category lends nothing"
        );
        // On loan to someone else: allowed, the old loan is closed.
        let theirs = loan("P0002", d(2026, 12, 1), 0);
        let plan = checkout(&c, p, Some(&cat(5)), Some(it), Some(&theirs), 4).unwrap();
        assert_eq!(plan.previous_patron.as_deref(), Some("P0002"));
        assert_eq!(plan.loan.patron, "P0001");
    }

    #[test]
    fn limits() {
        assert!(under_limit(4, 5));
        assert!(!under_limit(5, 5));
        assert!(!under_limit(6, 5));
        assert!(!under_limit(0, 0));
    }

    #[test]
    fn due_dates_skip_closed_days() {
        let b = branch("kontum");
        let r = rules();
        let tet = tet(&b);
        let c = LendingContext {
            today: d(2027, 2, 2),
            ..ctx(&b, &tet, &r)
        };
        let plan = checkout(
            &c,
            &patron(),
            Some(&cat(5)),
            Some(&item("KT1", "kontum")),
            None,
            0,
        )
        .unwrap();
        // 16 Feb is in Tết (16–20), 21 Feb is a Sunday.
        assert_eq!(plan.loan.due, d(2027, 2, 22));
    }

    #[test]
    fn checkin_rules() {
        let here = BranchId::new("kontum").unwrap();
        let plan = checkin(None, None, &here);
        assert_eq!(
            plan,
            CheckinPlan {
                was_on_loan: false,
                patron: None,
                transfer_to: None
            }
        );
        let ours = item("KT1", "kontum");
        let l = loan("P0001", d(2026, 12, 1), 0);
        let plan = checkin(Some(&ours), Some(&l), &here);
        assert!(plan.was_on_loan);
        assert_eq!(plan.patron.as_deref(), Some("P0001"));
        assert_eq!(plan.transfer_to, None);
        let theirs = item("DT1", "dakto");
        let plan = checkin(Some(&theirs), None, &here);
        assert!(!plan.was_on_loan);
        assert_eq!(plan.transfer_to.unwrap().as_str(), "dakto");
    }

    #[test]
    fn renew_rules() {
        let k = Kontum::new();
        let (c, p, it) = (k.ctx(), &k.patron, &k.item);
        let mine = loan("P0001", d(2026, 11, 30), 0);
        let renewed = renew(&c, p, Some(it), Some(&mine)).unwrap();
        assert_eq!(
            renewed.due,
            d(2026, 12, 14),
            "from the due date, not from today"
        );
        assert_eq!(renewed.renewals, 1);
        let due_today = loan("P0001", d(2026, 11, 25), 1);
        assert!(
            renew(&c, p, Some(it), Some(&due_today)).is_ok(),
            "due today is not overdue"
        );

        let code = |res: Result<Loan, Refusal>| res.unwrap_err().code;
        assert_eq!(code(renew(&c, p, Some(it), None)), ErrorCode::NotOnLoan);
        let theirs = loan("P0002", d(2026, 11, 30), 0);
        assert_eq!(
            code(renew(&c, p, Some(it), Some(&theirs))),
            ErrorCode::NotOnLoan
        );
        let overdue = loan("P0001", d(2026, 11, 24), 0);
        assert_eq!(
            code(renew(&c, p, Some(it), Some(&overdue))),
            ErrorCode::Overdue
        );
        let spent = loan("P0001", d(2026, 11, 30), 2);
        assert_eq!(
            code(renew(&c, p, Some(it), Some(&spent))),
            ErrorCode::RenewLimit
        );
        assert_eq!(
            code(renew(&c, p, None, Some(&mine))),
            ErrorCode::UnknownItem
        );
        let lost = Item {
            status: ItemStatus::Lost,
            ..item("KT1", "kontum")
        };
        assert_eq!(
            code(renew(&c, p, Some(&lost), Some(&mine))),
            ErrorCode::NotForLoan
        );
    }

    #[test]
    fn clock_never_runs_behind() {
        assert_eq!(event_time(100, None), 100);
        assert_eq!(event_time(100, Some(50)), 100);
        assert_eq!(event_time(100, Some(500)), 500);
    }
}
