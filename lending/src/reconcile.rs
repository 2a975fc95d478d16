//! Central's offline conflict rules of `docs/SYNC.md`, as a pure function.
//!
//! Central accepts what physically happened, then reconciles. Given central's current view
//! of the item, the patron and the item's loan, [`decide`] says what to change and which
//! notices to raise; central's store loads the state and carries the decision out. The due
//! date central would give ([`central_due`]) comes from the same [`LendingContext`] the
//! devices lend by.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rong_protocol::event::{Event, EventBody};
use rong_protocol::time::local_date;

use crate::loan::under_limit;
use crate::LendingContext;

/// How far ahead of central's clock a device clock may be before it is implausible.
pub const MAX_CLOCK_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The longest plausible loan or renewal, in days.
pub const MAX_LOAN_DAYS: i64 = 366;

/// The current loan of an item, as central holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanState {
    /// Card of the patron who has it.
    pub patron: String,
    /// Due date.
    pub due: NaiveDate,
    /// Renewals so far.
    pub renewals: u32,
    /// When it was lent (ms, the lending device's clock or central's when corrected).
    pub loaned_at: i64,
}

/// A patron, as far as the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronState {
    /// Blocked at central.
    pub blocked: bool,
    /// Active loans at central, before this event.
    pub active_loans: u32,
    /// The category's limit, if the category is known.
    pub max_loans: Option<u32>,
}

/// Central's view when an event arrives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Whether central knows the item barcode.
    pub item_known: bool,
    /// The item's active loan.
    pub loan: Option<LoanState>,
    /// The event's patron, if known.
    pub patron: Option<PatronState>,
    /// The due date central itself would give for this patron and item today
    /// ([`central_due`]), if it can tell (used to correct dates from an implausible clock).
    pub central_due: Option<NaiveDate>,
}

/// The due date central itself gives `body` today, by the rules the devices lend by: a
/// renewal of the loan central holds counts on from that loan's due date
/// ([`LendingContext::renewal_due`]), anything else is a new loan
/// ([`LendingContext::checkout_due`]). `None` when no rule covers the category and type.
pub fn central_due(
    ctx: &LendingContext<'_>,
    category: &str,
    item_type: &str,
    body: &EventBody,
    loan: Option<&LoanState>,
) -> Option<NaiveDate> {
    let rule = ctx.rule(category, item_type)?;
    Some(match (body, loan) {
        (EventBody::Renew { .. }, Some(loan)) => ctx.renewal_due(rule, loan.due),
        _ => ctx.checkout_due(rule),
    })
}

/// A change to loans that the store carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the item's active loan.
    CloseLoan {
        /// When it came back (ms).
        at: i64,
        /// Closed because someone else borrowed it: the return was missed.
        missed_return: bool,
    },
    /// Open a loan of the item.
    OpenLoan {
        /// Card.
        patron: String,
        /// When it was lent (ms).
        at: i64,
        /// Due date.
        due: NaiveDate,
    },
    /// Change the due date and renewals of the item's active loan.
    UpdateLoan {
        /// New due date.
        due: NaiveDate,
        /// Renewals.
        renewals: u32,
    },
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A checkout of an item central held as on loan to someone else.
    MissedReturn,
    /// A checkout at or over the category limit.
    OverLimit,
    /// A checkout by a patron blocked at central.
    BlockedPatronLoan,
    /// An item barcode central does not know.
    UnknownItem,
    /// A card central does not know.
    UnknownPatron,
    /// A due date from an implausible device clock, recomputed.
    ClockCorrected,
    /// A renewal of a loan central does not hold.
    RenewWithoutLoan,
    /// A PIN locked after too many wrong tries.
    PinLocked,
    /// A PIN a reader typed at a board that could not ask central was wrong when central
    /// checked it: the visit's loans were made without a right PIN.
    OfflineWrongPin,
}

impl NoticeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::MissedReturn => "missed_return",
            NoticeKind::OverLimit => "over_limit",
            NoticeKind::BlockedPatronLoan => "blocked_patron_loan",
            NoticeKind::UnknownItem => "unknown_item",
            NoticeKind::UnknownPatron => "unknown_patron",
            NoticeKind::ClockCorrected => "clock_corrected",
            NoticeKind::RenewWithoutLoan => "renew_without_loan",
            NoticeKind::PinLocked => "pin_locked",
            NoticeKind::OfflineWrongPin => "offline_wrong_pin",
        }
    }
}

/// A notice to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Kind.
    pub kind: NoticeKind,
    /// Item barcode, if any.
    pub item: Option<String>,
    /// Card, if any.
    pub patron: Option<String>,
    /// Detail for staff, in English.
    pub detail: String,
}

/// What to do with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Stored with the event: `applied` when loans changed, else why not.
    pub outcome: &'static str,
    /// Loan changes, in order.
    pub actions: Vec<Action>,
    /// Notices.
    pub notices: Vec<Notice>,
}

impl Decision {
    fn recorded(outcome: &'static str) -> Self {
        Decision {
            outcome,
            actions: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn notice(
        mut self,
        kind: NoticeKind,
        item: Option<&str>,
        patron: Option<&str>,
        detail: String,
    ) -> Self {
        self.notices.push(Notice {
            kind,
            item: item.map(str::to_owned),
            patron: patron.map(str::to_owned),
            detail,
        });
        self
    }
}

fn earliest_plausible_ms() -> i64 {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .map(|d| NaiveDateTime::from(d).and_utc().timestamp_millis())
        .unwrap_or(0)
}

/// Whether an event's instant is implausible against central's clock.
pub fn instant_implausible(at: i64, now_ms: i64) -> bool {
    at > now_ms + MAX_CLOCK_AHEAD_MS || at < earliest_plausible_ms()
}

/// Whether an event's clock is implausible: its instant, or a due date before the event's
/// day or more than a year after it.
pub fn clock_implausible(at: i64, due: NaiveDate, now_ms: i64, utc_offset_min: i32) -> bool {
    let day = local_date(at, utc_offset_min);
    instant_implausible(at, now_ms) || due < day || due > day + Duration::days(MAX_LOAN_DAYS)
}

/// Decides what an event does to central's state.
pub fn decide(event: &Event, state: &State, now_ms: i64, utc_offset_min: i32) -> Decision {
    match &event.body {
        EventBody::Checkout { item, patron, due } => {
            checkout(event.at, item, patron, *due, state, now_ms, utc_offset_min)
        }
        EventBody::Checkin { item, patron } => {
            let plausible = !instant_implausible(event.at, now_ms);
            let at = if plausible { event.at } else { now_ms };
            if !state.item_known {
                return Decision::recorded("unknown_item").notice(
                    NoticeKind::UnknownItem,
                    Some(item),
                    None,
                    format!("return of unknown item {item}; reconcile by hand"),
                );
            }
            let Some(loan) = &state.loan else {
                return Decision::recorded("not_on_loan");
            };
            // A return made (offline) before another patron borrowed the item elsewhere
            // ends the earlier loan, which central has already closed: keep the newer one.
            if plausible
                && event.at < loan.loaned_at
                && patron.as_deref().is_some_and(|p| p != loan.patron)
            {
                return Decision::recorded("earlier_loan");
            }
            Decision {
                outcome: "applied",
                actions: vec![Action::CloseLoan {
                    at,
                    missed_return: false,
                }],
                notices: Vec::new(),
            }
        }
        EventBody::Renew {
            item,
            patron,
            due,
            renewals,
        } => match &state.loan {
            Some(loan) if &loan.patron == patron => {
                let mut d = Decision::recorded("applied");
                let mut due = *due;
                if clock_implausible(event.at, due, now_ms, utc_offset_min) {
                    if let Some(fixed) = state.central_due {
                        d = d.notice(
                            NoticeKind::ClockCorrected,
                            Some(item),
                            Some(patron),
                            format!("renewal due {due} from an implausible clock; set to {fixed}"),
                        );
                        due = fixed;
                    }
                }
                d.actions.push(Action::UpdateLoan {
                    due,
                    renewals: (*renewals).max(loan.renewals),
                });
                d
            }
            _ => Decision::recorded("renew_without_loan").notice(
                NoticeKind::RenewWithoutLoan,
                Some(item),
                Some(patron),
                format!("renewal of {item} by {patron}, but central holds no such loan"),
            ),
        },
        EventBody::Identify { .. } => Decision::recorded("recorded"),
        EventBody::PinLocked { patron } => Decision::recorded("recorded").notice(
            NoticeKind::PinLocked,
            None,
            Some(patron),
            format!("PIN of {patron} locked after too many wrong tries"),
        ),
    }
}

fn checkout(
    at: i64,
    item: &str,
    patron: &str,
    due: NaiveDate,
    state: &State,
    now_ms: i64,
    utc_offset_min: i32,
) -> Decision {
    if !state.item_known {
        return Decision::recorded("unknown_item").notice(
            NoticeKind::UnknownItem,
            Some(item),
            Some(patron),
            format!("checkout of unknown item {item}; no loan recorded"),
        );
    }
    let Some(p) = &state.patron else {
        return Decision::recorded("unknown_patron").notice(
            NoticeKind::UnknownPatron,
            Some(item),
            Some(patron),
            format!("checkout by unknown card {patron}; no loan recorded"),
        );
    };
    let mut d = Decision::recorded("applied");
    let (mut at, mut due) = (at, due);
    if clock_implausible(at, due, now_ms, utc_offset_min) {
        let fixed = state.central_due.unwrap_or(due);
        d = d.notice(
            NoticeKind::ClockCorrected,
            Some(item),
            Some(patron),
            format!(
                "checkout at {at} ms with due {due} from an implausible clock; due set to {fixed}"
            ),
        );
        if instant_implausible(at, now_ms) {
            at = now_ms;
        }
        due = fixed;
    }
    match &state.loan {
        Some(loan) if loan.patron == patron => {
            // The same loan reported again (for instance by a second kiosk): keep it.
            if due > loan.due {
                d.actions.push(Action::UpdateLoan {
                    due,
                    renewals: loan.renewals,
                });
            }
            return d;
        }
        Some(loan) => {
            d = d.notice(
                NoticeKind::MissedReturn,
                Some(item),
                Some(&loan.patron),
                format!(
                    "{item} was on loan to {} when {patron} borrowed it; return was missed",
                    loan.patron
                ),
            );
            d.actions.push(Action::CloseLoan {
                at,
                missed_return: true,
            });
        }
        None => {}
    }
    if p.blocked {
        d = d.notice(
            NoticeKind::BlockedPatronLoan,
            Some(item),
            Some(patron),
            format!("{patron} is blocked at central but borrowed {item} offline"),
        );
    }
    if let Some(max) = p.max_loans {
        if !under_limit(p.active_loans, max) {
            d = d.notice(
                NoticeKind::OverLimit,
                Some(item),
                Some(patron),
                format!(
                    "{patron} had {} loans (limit {max}) and borrowed {item}",
                    p.active_loans
                ),
            );
        }
    }
    d.actions.push(Action::OpenLoan {
        patron: patron.to_owned(),
        at,
        due,
    });
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::time::DEFAULT_UTC_OFFSET_MIN as TZ;
    use uuid::Uuid;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    // 2026-11-25 03:00 UTC = 10:00 in Kon Tum.
    fn now() -> i64 {
        NaiveDateTime::from(date(2026, 11, 25))
            .and_utc()
            .timestamp_millis()
            + 3 * 3_600_000
    }

    fn ev(at: i64, body: EventBody) -> Event {
        Event {
            seq: 1,
            id: Uuid::nil(),
            at,
            clock_synced: true,
            body,
        }
    }

    fn checkout_ev(at: i64, due: NaiveDate) -> Event {
        ev(
            at,
            EventBody::Checkout {
                item: "KT1".into(),
                patron: "P1".into(),
                due,
            },
        )
    }

    fn patron(blocked: bool, active: u32) -> Option<PatronState> {
        Some(PatronState {
            blocked,
            active_loans: active,
            max_loans: Some(5),
        })
    }

    fn known(loan: Option<(&str, NaiveDate)>, p: Option<PatronState>) -> State {
        State {
            item_known: true,
            loan: loan.map(|(who, due)| LoanState {
                patron: who.into(),
                due,
                renewals: 0,
                loaned_at: now() - 86_400_000,
            }),
            patron: p,
            central_due: Some(date(2026, 12, 9)),
        }
    }

    fn kinds(d: &Decision) -> Vec<&'static str> {
        d.notices.iter().map(|n| n.kind.as_str()).collect()
    }

    const DUE: (i32, u32, u32) = (2026, 12, 9);
    fn due() -> NaiveDate {
        date(DUE.0, DUE.1, DUE.2)
    }

    /// Decides `event` now, in Kon Tum's time zone.
    fn decide_now(event: &Event, state: &State) -> Decision {
        decide(event, state, now(), TZ)
    }

    /// A checkout of the free item KT1, made now, by a patron in the state `p`.
    fn checkout_by(p: Option<PatronState>) -> Decision {
        decide_now(&checkout_ev(now(), due()), &known(None, p))
    }

    #[test]
    fn plain_checkout_opens_a_loan() {
        let d = checkout_by(patron(false, 0));
        assert_eq!(d.outcome, "applied");
        assert!(d.notices.is_empty());
        assert_eq!(
            d.actions,
            vec![Action::OpenLoan {
                patron: "P1".into(),
                at: now(),
                due: due()
            }]
        );
    }

    #[test]
    fn checkout_of_item_on_loan_to_another_closes_it() {
        let state = known(Some(("P9", date(2026, 12, 1))), patron(false, 0));
        let d = decide_now(&checkout_ev(now() - 5000, due()), &state);
        assert_eq!(kinds(&d), vec!["missed_return"]);
        assert_eq!(d.notices[0].patron.as_deref(), Some("P9"));
        assert_eq!(
            d.actions[0],
            Action::CloseLoan {
                at: now() - 5000,
                missed_return: true
            }
        );
        assert!(matches!(d.actions[1], Action::OpenLoan { .. }));
    }

    #[test]
    fn checkout_over_limit_is_accepted_with_notice() {
        let d = checkout_by(patron(false, 5));
        assert_eq!(kinds(&d), vec!["over_limit"]);
        assert!(matches!(d.actions[0], Action::OpenLoan { .. }));
        let under = checkout_by(patron(false, 4));
        assert!(under.notices.is_empty());
    }

    #[test]
    fn checkout_by_blocked_patron_is_accepted_with_notice() {
        let d = checkout_by(patron(true, 0));
        assert_eq!(kinds(&d), vec!["blocked_patron_loan"]);
        assert!(matches!(d.actions[0], Action::OpenLoan { .. }));
    }

    #[test]
    fn checkout_of_item_on_loan_to_same_patron_keeps_newer_due() {
        let later = date(2026, 12, 20);
        let state = known(Some(("P1", due())), patron(false, 1));
        let d = decide_now(&checkout_ev(now(), later), &state);
        assert!(d.notices.is_empty());
        assert_eq!(
            d.actions,
            vec![Action::UpdateLoan {
                due: later,
                renewals: 0
            }]
        );
        let state = known(Some(("P1", later)), patron(false, 1));
        let d = decide_now(&checkout_ev(now(), due()), &state);
        assert!(d.actions.is_empty(), "older due date changes nothing");
        assert_eq!(d.outcome, "applied");
    }

    #[test]
    fn checkout_of_unknown_item_or_patron_records_only() {
        let mut state = known(None, patron(false, 0));
        state.item_known = false;
        let d = decide_now(&checkout_ev(now(), due()), &state);
        assert_eq!(kinds(&d), vec!["unknown_item"]);
        assert!(d.actions.is_empty());
        let d = decide_now(&checkout_ev(now(), due()), &known(None, None));
        assert_eq!(kinds(&d), vec!["unknown_patron"]);
        assert_eq!(d.outcome, "unknown_patron");
        assert!(d.actions.is_empty());
    }

    #[test]
    fn checkout_with_implausible_clock_is_corrected() {
        let state = known(None, patron(false, 0));
        // Clock an hour ahead.
        let d = decide_now(&checkout_ev(now() + 3_600_000, due()), &state);
        assert_eq!(kinds(&d), vec!["clock_corrected"]);
        assert_eq!(
            d.actions,
            vec![Action::OpenLoan {
                patron: "P1".into(),
                at: now(),
                due: date(2026, 12, 9)
            }]
        );
        // Clock back in 1970 (no battery): at is implausible, due recomputed.
        let d = decide_now(&checkout_ev(0, date(1970, 1, 15)), &state);
        assert_eq!(kinds(&d), vec!["clock_corrected"]);
        assert!(
            matches!(&d.actions[0], Action::OpenLoan { at, due, .. } if *at == now() && *due == date(2026, 12, 9))
        );
        // Due before the event's day, or more than a year on.
        for bad in [date(2026, 11, 1), date(2028, 1, 1)] {
            let d = decide_now(&checkout_ev(now(), bad), &state);
            assert_eq!(kinds(&d), vec!["clock_corrected"], "{bad}");
        }
        // Five minutes ahead is fine.
        let d = decide_now(&checkout_ev(now() + 300_000, due()), &state);
        assert!(d.notices.is_empty());
    }

    #[test]
    fn checkin_closes_a_loan_or_records() {
        let body = EventBody::Checkin {
            item: "KT1".into(),
            patron: None,
        };
        let d = decide_now(&ev(now(), body.clone()), &known(Some(("P1", due())), None));
        assert_eq!(
            d.actions,
            vec![Action::CloseLoan {
                at: now(),
                missed_return: false
            }]
        );
        // Not on loan: recorded, no error, no notice.
        let d = decide_now(&ev(now(), body.clone()), &known(None, None));
        assert!(d.actions.is_empty() && d.notices.is_empty());
        assert_eq!(d.outcome, "not_on_loan");
        // Unknown item: recorded with a notice.
        let d = decide_now(&ev(now(), body), &State::default());
        assert_eq!(kinds(&d), vec!["unknown_item"]);
        assert!(d.actions.is_empty());
    }

    #[test]
    fn renew_updates_or_records() {
        let body = |who: &str| EventBody::Renew {
            item: "KT1".into(),
            patron: who.into(),
            due: date(2026, 12, 23),
            renewals: 1,
        };
        let state = known(Some(("P1", due())), patron(false, 1));
        let d = decide_now(&ev(now(), body("P1")), &state);
        assert_eq!(
            d.actions,
            vec![Action::UpdateLoan {
                due: date(2026, 12, 23),
                renewals: 1
            }]
        );
        let d = decide_now(&ev(now(), body("P2")), &state);
        assert_eq!(kinds(&d), vec!["renew_without_loan"]);
        assert!(d.actions.is_empty());
        let d = decide_now(&ev(now(), body("P1")), &known(None, None));
        assert_eq!(kinds(&d), vec!["renew_without_loan"]);
    }

    #[test]
    fn identify_and_pin_lock_are_recorded() {
        let p1 = || String::from("P1");
        for (body, expected) in [
            (
                EventBody::Identify {
                    patron: p1(),
                    pin: None,
                },
                vec![],
            ),
            (EventBody::PinLocked { patron: p1() }, vec!["pin_locked"]),
        ] {
            let d = decide_now(&ev(now(), body), &State::default());
            assert!(d.actions.is_empty());
            assert_eq!(kinds(&d), expected);
        }
    }

    #[test]
    fn central_due_counts_like_a_device() {
        let b = crate::fixtures::branch("kontum");
        let rules = crate::fixtures::rules();
        let ctx = LendingContext {
            today: date(2026, 11, 25),
            branch: &b,
            closed: &[],
            rules: &rules,
        };
        let renew = EventBody::Renew {
            item: "KT1".into(),
            patron: "P1".into(),
            due: date(2026, 12, 23),
            renewals: 1,
        };
        let checkout = checkout_ev(now(), due()).body;
        let loan = known(Some(("P1", date(2026, 11, 30))), None).loan;
        assert_eq!(
            central_due(&ctx, "adult", "book", &checkout, loan.as_ref()),
            Some(date(2026, 12, 9))
        );
        assert_eq!(
            central_due(&ctx, "adult", "book", &renew, loan.as_ref()),
            Some(date(2026, 12, 14)),
            "a renewal counts on from the due date"
        );
        assert_eq!(
            central_due(&ctx, "adult", "book", &renew, None),
            Some(date(2026, 12, 9))
        );
        let none = LendingContext { rules: &[], ..ctx };
        assert_eq!(central_due(&none, "adult", "book", &checkout, None), None);
    }
}
