//! Circulation rules as plain functions: who may borrow, renew or return what, decided
//! offline from the cached reference data. Nothing here touches the database or a clock.

use chrono::NaiveDate;
use rong_protocol::api::{ApiError, ErrorCode};
use rong_protocol::barcode;
use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, Loan, LoanRule, Patron};
use rong_protocol::time::{due_date, find_rule};
use rong_protocol::BranchId;

/// A refused request: a stable code and a detail for the log and the English text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code clients branch on.
    pub code: ErrorCode,
    /// Extra detail, in English; may be empty.
    pub detail: String,
}

impl Refusal {
    /// A refusal with a detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// The API error for this refusal.
    pub fn to_api(&self) -> ApiError {
        ApiError::new(self.code, &self.detail)
    }
}

/// PIN lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Wrong PINs before the lock.
    pub max_attempts: u32,
    /// Lock length in minutes.
    pub lock_minutes: u32,
}

/// A card's PIN failure record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinState {
    /// Wrong PINs since the last right one or lock.
    pub failures: u32,
    /// Locked until this instant (ms since the epoch), if locked.
    pub locked_until: Option<i64>,
}

/// The checks on a patron that need no PIN: a card number events can carry, blocked,
/// expired.
pub fn check_patron(patron: Option<&Patron>, today: NaiveDate) -> Result<&Patron, Refusal> {
    let p = patron.ok_or_else(|| Refusal::new(ErrorCode::UnknownPatron, ""))?;
    // Central refuses a whole event batch holding a code outside the protocol's rules, so
    // one event for such a card would stop every later event from syncing.
    if !barcode::is_valid(&p.card) {
        return Err(Refusal::new(
            ErrorCode::UnknownPatron,
            "card number is not valid for sync",
        ));
    }
    if let Some(why) = &p.blocked {
        return Err(Refusal::new(ErrorCode::PatronBlocked, why.clone()));
    }
    if p.expires.is_some_and(|e| e < today) {
        return Err(Refusal::new(ErrorCode::CardExpired, ""));
    }
    Ok(p)
}

/// Whether this patron must type a PIN at this branch.
pub fn pin_needed(patron: &Patron, branch: &Branch) -> bool {
    patron.pin_hash.is_some() && (patron.pin_required || branch.require_pin)
}

/// What to do about the PIN before verifying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinGate {
    /// No PIN needed.
    Open,
    /// Verify this PIN against this hash.
    Verify {
        /// The PIN typed.
        pin: String,
        /// The PHC hash.
        hash: String,
    },
}

/// Decides whether a PIN must be checked; refuses a locked card or a missing PIN.
pub fn pin_gate(
    patron: &Patron,
    branch: &Branch,
    pin: Option<&str>,
    state: PinState,
    now_ms: i64,
) -> Result<PinGate, Refusal> {
    if !pin_needed(patron, branch) {
        return Ok(PinGate::Open);
    }
    if state.locked_until.is_some_and(|t| t > now_ms) {
        return Err(Refusal::new(ErrorCode::PinLocked, ""));
    }
    match (pin, &patron.pin_hash) {
        (Some(pin), Some(hash)) if !pin.is_empty() => Ok(PinGate::Verify {
            pin: pin.to_owned(),
            hash: hash.clone(),
        }),
        _ => Err(Refusal::new(ErrorCode::PinRequired, "")),
    }
}

/// The result of a verified (or failed) PIN: the new failure record, and whether a
/// `PinLocked` event must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinVerdict {
    /// The record to store.
    pub state: PinState,
    /// Whether this attempt locked the card.
    pub locked_now: bool,
    /// `Ok` when the PIN was right.
    pub outcome: Result<(), Refusal>,
}

/// Counts a PIN attempt.
pub fn pin_result(right: bool, state: PinState, policy: PinPolicy, now_ms: i64) -> PinVerdict {
    if right {
        return PinVerdict {
            state: PinState::default(),
            locked_now: false,
            outcome: Ok(()),
        };
    }
    // An expired lock starts a fresh count.
    let failures = if state.locked_until.is_some() {
        1
    } else {
        state.failures + 1
    };
    if failures >= policy.max_attempts {
        PinVerdict {
            state: PinState {
                failures: 0,
                locked_until: Some(now_ms + i64::from(policy.lock_minutes) * 60_000),
            },
            locked_now: true,
            outcome: Err(Refusal::new(ErrorCode::PinLocked, "")),
        }
    } else {
        PinVerdict {
            state: PinState {
                failures,
                locked_until: None,
            },
            locked_now: false,
            outcome: Err(Refusal::new(ErrorCode::WrongPin, "")),
        }
    }
}

/// The reference data a lending decision needs.
#[derive(Debug, Clone, Copy)]
pub struct LendingContext<'a> {
    /// Today, local date.
    pub today: NaiveDate,
    /// This device's branch.
    pub branch: &'a Branch,
    /// Its closed days.
    pub closed: &'a [ClosedDay],
    /// All loan rules.
    pub rules: &'a [LoanRule],
}

/// A checkout the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutPlan {
    /// The new loan.
    pub loan: Loan,
    /// The patron who held the item before, if anyone (a missed return).
    pub previous_patron: Option<String>,
}

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
    match find_rule(ctx.rules, &patron.category, &item.item_type) {
        Some(r) if r.loan_days > 0 => Ok(r),
        _ => Err(Refusal::new(ErrorCode::NotForLoan, "no loan rule")),
    }
}

/// Decides a checkout. `patron` has passed [`check_patron`] and the PIN; `patron_loans` is
/// how many loans the patron holds now.
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
    let max = category.map_or(0, |c| c.max_loans);
    if patron_loans >= max {
        return Err(Refusal::new(
            ErrorCode::LoanLimit,
            format!("{patron_loans} of {max}"),
        ));
    }
    Ok(CheckoutPlan {
        loan: Loan {
            item: item.barcode.clone(),
            patron: patron.card.clone(),
            due: due_date(ctx.branch, ctx.closed, ctx.today, rule.loan_days),
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

/// Decides a renewal. `patron` has passed [`check_patron`] and the PIN.
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
    // A renewal extends from the current due date (or from today, if that is later), so a
    // reader who renews early does not lose days, and every renewal moves the date on.
    let base = loan.due.max(ctx.today);
    Ok(Loan {
        item: loan.item.clone(),
        patron: loan.patron.clone(),
        due: due_date(ctx.branch, ctx.closed, base, rule.loan_days),
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

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn branch(id: &str) -> Branch {
        Branch {
            id: BranchId::new(id).unwrap(),
            name: format!("Thư viện {id}"),
            closed_weekdays: vec![7],
            require_pin: false,
        }
    }

    fn patron() -> Patron {
        Patron {
            card: "P0001".into(),
            nfc_uids: vec!["04A22B1A".into()],
            name: "Nguyễn Văn Đức".into(),
            category: "adult".into(),
            branch: BranchId::new("kontum").unwrap(),
            blocked: None,
            expires: Some(d(2027, 1, 1)),
            pin_hash: None,
            pin_required: false,
            staff: false,
        }
    }

    fn item(barcode: &str, home: &str) -> Item {
        Item {
            barcode: barcode.into(),
            record: "R1".into(),
            title: "Địa chí Kon Tum".into(),
            author: String::new(),
            call_number: String::new(),
            item_type: "book".into(),
            shelf: String::new(),
            home_branch: BranchId::new(home).unwrap(),
            status: ItemStatus::Available,
        }
    }

    fn rules() -> Vec<LoanRule> {
        vec![
            LoanRule {
                category: "*".into(),
                item_type: "*".into(),
                loan_days: 14,
                max_renewals: 2,
            },
            LoanRule {
                category: "*".into(),
                item_type: "reference".into(),
                loan_days: 0,
                max_renewals: 0,
            },
        ]
    }

    fn cat(max: u32) -> Category {
        Category {
            id: "adult".into(),
            name: "Người lớn".into(),
            max_loans: max,
        }
    }

    fn loan(patron: &str, due: NaiveDate, renewals: u32) -> Loan {
        Loan {
            item: "KT1".into(),
            patron: patron.into(),
            due,
            renewals,
        }
    }

    const POLICY: PinPolicy = PinPolicy {
        max_attempts: 3,
        lock_minutes: 60,
    };

    #[test]
    fn patron_checks() {
        let today = d(2026, 11, 25);
        assert_eq!(
            check_patron(None, today).unwrap_err().code,
            ErrorCode::UnknownPatron
        );
        let mut p = patron();
        assert!(check_patron(Some(&p), today).is_ok());
        p.expires = Some(d(2026, 11, 25));
        assert!(
            check_patron(Some(&p), today).is_ok(),
            "valid on its last day"
        );
        p.expires = Some(d(2026, 11, 24));
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::CardExpired
        );
        p.blocked = Some("unpaid fine".into());
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::PatronBlocked
        );
        // A card number events cannot carry is refused before anything is logged.
        let mut p = patron();
        p.card = "P 0001".into();
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::UnknownPatron
        );
    }

    #[test]
    fn pin_needed_rules() {
        let mut p = patron();
        let mut b = branch("kontum");
        assert!(!pin_needed(&p, &b));
        b.require_pin = true;
        assert!(!pin_needed(&p, &b), "no hash, nothing to check");
        p.pin_hash = Some("$argon2id$...".into());
        assert!(pin_needed(&p, &b));
        b.require_pin = false;
        assert!(!pin_needed(&p, &b));
        p.pin_required = true;
        assert!(pin_needed(&p, &b));
    }

    #[test]
    fn pin_gate_rules() {
        let mut p = patron();
        p.pin_hash = Some("H".into());
        p.pin_required = true;
        let b = branch("kontum");
        let ok = PinState::default();
        assert_eq!(
            pin_gate(&p, &b, None, ok, 0).unwrap_err().code,
            ErrorCode::PinRequired
        );
        assert_eq!(
            pin_gate(&p, &b, Some(""), ok, 0).unwrap_err().code,
            ErrorCode::PinRequired
        );
        assert_eq!(
            pin_gate(&p, &b, Some("1234"), ok, 0).unwrap(),
            PinGate::Verify {
                pin: "1234".into(),
                hash: "H".into()
            }
        );
        let locked = PinState {
            failures: 0,
            locked_until: Some(1000),
        };
        assert_eq!(
            pin_gate(&p, &b, Some("1234"), locked, 999)
                .unwrap_err()
                .code,
            ErrorCode::PinLocked,
            "locked even with a PIN"
        );
        assert!(
            pin_gate(&p, &b, Some("1234"), locked, 1000).is_ok(),
            "lock over"
        );
        p.pin_required = false;
        assert_eq!(pin_gate(&p, &b, None, locked, 0).unwrap(), PinGate::Open);
    }

    #[test]
    fn pin_lockout_counts() {
        let mut s = PinState::default();
        let v = pin_result(false, s, POLICY, 0);
        assert_eq!(v.outcome.unwrap_err().code, ErrorCode::WrongPin);
        assert_eq!(v.state.failures, 1);
        s = v.state;
        // A right PIN resets the count.
        let v = pin_result(true, s, POLICY, 0);
        assert!(v.outcome.is_ok());
        assert_eq!(v.state, PinState::default());
        // Three wrong in a row lock for an hour, with an event.
        let mut s = PinState::default();
        for _ in 0..2 {
            let v = pin_result(false, s, POLICY, 0);
            assert!(!v.locked_now);
            s = v.state;
        }
        let v = pin_result(false, s, POLICY, 5);
        assert!(v.locked_now);
        assert_eq!(v.outcome.unwrap_err().code, ErrorCode::PinLocked);
        assert_eq!(v.state.locked_until, Some(5 + 3_600_000));
        // After the lock, a wrong PIN starts a fresh count.
        let v = pin_result(false, v.state, POLICY, 4_000_000);
        assert_eq!(v.state.failures, 1);
        assert_eq!(v.state.locked_until, None);
        assert!(!v.locked_now);
    }

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

    #[test]
    fn checkout_rules() {
        let b = branch("kontum");
        let r = rules();
        let c = ctx(&b, &[], &r);
        let p = patron();
        let it = item("KT1", "kontum");
        let plan = checkout(&c, &p, Some(&cat(5)), Some(&it), None, 0).unwrap();
        assert_eq!(plan.loan.due, d(2026, 12, 9));
        assert_eq!(plan.loan.renewals, 0);
        assert_eq!(plan.previous_patron, None);

        let code = |res: Result<CheckoutPlan, Refusal>| res.unwrap_err().code;
        assert_eq!(
            code(checkout(&c, &p, Some(&cat(5)), None, None, 0)),
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
                code(checkout(&c, &p, Some(&cat(5)), Some(&it), None, 0)),
                ErrorCode::NotForLoan
            );
        }
        let reference = Item {
            item_type: "reference".into(),
            ..item("KT1", "kontum")
        };
        assert_eq!(
            code(checkout(&c, &p, Some(&cat(5)), Some(&reference), None, 0)),
            ErrorCode::NotForLoan,
            "loan_days 0"
        );
        assert_eq!(
            code(checkout(
                &ctx(&b, &[], &[]),
                &p,
                Some(&cat(5)),
                Some(&it),
                None,
                0
            )),
            ErrorCode::NotForLoan,
            "no rule at all"
        );
        let mine = loan("P0001", d(2026, 12, 1), 0);
        assert_eq!(
            code(checkout(&c, &p, Some(&cat(5)), Some(&it), Some(&mine), 1)),
            ErrorCode::AlreadyOnLoan
        );
        assert_eq!(
            code(checkout(&c, &p, Some(&cat(5)), Some(&it), None, 5)),
            ErrorCode::LoanLimit
        );
        assert_eq!(
            code(checkout(&c, &p, None, Some(&it), None, 0)),
            ErrorCode::LoanLimit,
            "unknown category lends nothing"
        );
        // On loan to someone else: allowed, the old loan is closed.
        let theirs = loan("P0002", d(2026, 12, 1), 0);
        let plan = checkout(&c, &p, Some(&cat(5)), Some(&it), Some(&theirs), 4).unwrap();
        assert_eq!(plan.previous_patron.as_deref(), Some("P0002"));
        assert_eq!(plan.loan.patron, "P0001");
    }

    #[test]
    fn due_dates_skip_closed_days() {
        let b = branch("kontum");
        let r = rules();
        let tet: Vec<ClosedDay> = (16..=20)
            .map(|day| ClosedDay {
                branch: b.id.clone(),
                date: d(2027, 2, day),
                reason: "Tết Nguyên Đán".into(),
            })
            .collect();
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
        let b = branch("kontum");
        let r = rules();
        let c = ctx(&b, &[], &r);
        let p = patron();
        let it = item("KT1", "kontum");
        let mine = loan("P0001", d(2026, 11, 30), 0);
        let renewed = renew(&c, &p, Some(&it), Some(&mine)).unwrap();
        assert_eq!(
            renewed.due,
            d(2026, 12, 14),
            "from the due date, not from today"
        );
        assert_eq!(renewed.renewals, 1);
        let due_today = loan("P0001", d(2026, 11, 25), 1);
        assert!(
            renew(&c, &p, Some(&it), Some(&due_today)).is_ok(),
            "due today is not overdue"
        );

        let code = |res: Result<Loan, Refusal>| res.unwrap_err().code;
        assert_eq!(code(renew(&c, &p, Some(&it), None)), ErrorCode::NotOnLoan);
        let theirs = loan("P0002", d(2026, 11, 30), 0);
        assert_eq!(
            code(renew(&c, &p, Some(&it), Some(&theirs))),
            ErrorCode::NotOnLoan
        );
        let overdue = loan("P0001", d(2026, 11, 24), 0);
        assert_eq!(
            code(renew(&c, &p, Some(&it), Some(&overdue))),
            ErrorCode::Overdue
        );
        let spent = loan("P0001", d(2026, 11, 30), 2);
        assert_eq!(
            code(renew(&c, &p, Some(&it), Some(&spent))),
            ErrorCode::RenewLimit
        );
        assert_eq!(
            code(renew(&c, &p, None, Some(&mine))),
            ErrorCode::UnknownItem
        );
        let lost = Item {
            status: ItemStatus::Lost,
            ..item("KT1", "kontum")
        };
        assert_eq!(
            code(renew(&c, &p, Some(&lost), Some(&mine))),
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
