//! The circulation service: kiosk sessions, PINs, identify, checkout, checkin, renew, a
//! patron's loans, the catalogue search and loan receipts, and the staff check other
//! services ask for. It reads the store, asks the pure lending rules in [`rong_lending`]
//! for every decision, and commits the result with its event.
//!
//! PINs: the board holds no PIN hashes (`docs/TRUST.md`). Online, central checks each PIN
//! ([`central_pin`]); its lock is kept here too. When central cannot be asked, the PIN is
//! sealed to central's key and goes with the visit's `identify` event for central to check
//! on arrival; meanwhile the visit is "unchecked": a card typed rather than tapped opens no
//! staff menu, and lending stops at `[circulation] offline_pin_loans` loans central has not
//! yet seen.
//!
//! Every method blocks (SQLite, central's PIN check): call them from `spawn_blocking`.

pub mod central_pin;
mod session;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rong_identity::pin::{PinAnswer, PinOutcome};
use rong_identity::PublicKey;
use rong_lending::{LendingContext, PinGate, PinState, Refusal};
use rong_protocol::api::{ApiError, ErrorCode, LoanView, PatronView, Reply, Who};
use rong_protocol::barcode;
use rong_protocol::delta::{Branch, ClosedDay, LoanRule, Patron};
use rong_protocol::event::EventBody;
use rong_protocol::time::local_date;
use rong_protocol::BranchId;
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::config::{CirculationConfig, ClockSynced, Config};
use crate::hardware::Hardware;
use crate::store::{Commit, LoanChange, NewEvent, SharedStore, Store, StoreError};
use session::{Sessions, Trust};

/// The config sections circulation decides by.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The branch this board stands in: the home of its loans and returns.
    pub branch: BranchId,
    /// Session idle time, the PIN policy and the local UTC offset.
    pub circulation: CirculationConfig,
    /// Whether the system clock is trusted.
    pub clock: ClockSynced,
}

impl Settings {
    /// The sections of the whole agent config that circulation reads.
    pub fn from_config(config: &Config) -> Self {
        Self {
            branch: config.branch.clone(),
            circulation: config.circulation.clone(),
            clock: config.clock.synced,
        }
    }
}

/// The circulation service; see the module documentation.
#[derive(Debug)]
pub struct Circulation {
    settings: Settings,
    store: SharedStore,
    sessions: Mutex<Sessions>,
    /// The receipt printer lives among the board's devices.
    hardware: Arc<Hardware>,
    /// Woken after every event written, so that the sync loop sends it.
    new_event: Arc<Notify>,
    /// Central, which checks PINs while the board is online, and central's public key,
    /// which PINs typed offline are sealed to (set once enrolled).
    pins: std::sync::RwLock<Option<CentralPins>>,
}

/// Who checks PINs, and the key PINs it cannot check now are sealed to.
#[derive(Debug, Clone)]
struct CentralPins {
    authority: Arc<dyn central_pin::PinAuthority>,
    seal_to: PublicKey,
}

/// Who asked, once authenticated.
#[derive(Debug, Clone)]
struct Authenticated {
    /// The patron (`staff` cleared when the visit may not open the staff menu).
    patron: Patron,
    /// The PIN typed, sealed to central's key, when central could not check it now.
    sealed_pin: Option<String>,
    /// How far the visit is trusted.
    trust: Trust,
}

fn internal(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError::new(ErrorCode::Internal, "")
}

fn refused(r: Refusal) -> ApiError {
    tracing::info!(code = ?r.code, detail = %r.detail, "request refused");
    r.to_api()
}

fn bad(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, detail)
}

fn check_item_code(item: &str) -> Result<(), ApiError> {
    if barcode::is_valid(item) {
        Ok(())
    } else {
        Err(bad(
            "item barcode must be 1 to 64 printable ASCII characters",
        ))
    }
}

/// What a loan or renewal is decided against besides the patron and the item: the time,
/// this branch, its closed days and the loan rules, as the store holds them now.
struct Basis {
    at: i64,
    today: chrono::NaiveDate,
    branch: Branch,
    closed: Vec<ClosedDay>,
    rules: Vec<LoanRule>,
}

impl Basis {
    fn context(&self) -> LendingContext<'_> {
        LendingContext {
            today: self.today,
            branch: &self.branch,
            closed: &self.closed,
            rules: &self.rules,
        }
    }
}

fn session_only(session: &str) -> Who {
    Who {
        session: Some(session.to_owned()),
        ..Who::default()
    }
}

impl Circulation {
    /// The service over the shared store; `new_event` is woken after each event written.
    pub fn new(
        settings: Settings,
        store: SharedStore,
        hardware: Arc<Hardware>,
        new_event: Arc<Notify>,
    ) -> Self {
        let idle = Duration::from_secs(settings.circulation.session_idle_secs);
        Self {
            settings,
            store,
            sessions: Mutex::new(Sessions::new(idle)),
            hardware,
            new_event,
            pins: std::sync::RwLock::new(None),
        }
    }

    /// Asks `authority` (central) to check PINs from now on, while it can be reached, and
    /// seals PINs it cannot check to `seal_to` (central's public key).
    pub fn set_pin_authority(
        &self,
        authority: Arc<dyn central_pin::PinAuthority>,
        seal_to: PublicKey,
    ) {
        *self.pins.write().unwrap_or_else(|e| e.into_inner()) =
            Some(CentralPins { authority, seal_to });
    }

    fn central(&self) -> Option<CentralPins> {
        self.pins.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes central's verdict, keeping its lock here too so that it holds offline.
    fn take_central_verdict(&self, patron: Patron, answer: PinAnswer) -> Result<Patron, ApiError> {
        let state = match answer.outcome {
            PinOutcome::Right | PinOutcome::NotNeeded => Some(PinState::default()),
            PinOutcome::Locked => Some(PinState {
                failures: 0,
                locked_until: answer.locked_until_ms,
            }),
            PinOutcome::Wrong | PinOutcome::UnknownPatron => None,
        };
        if let Some(state) = state {
            let mut store = self.store.lock();
            if store.pin_state(&patron.card).map_err(internal)? != state {
                self.commit(
                    &mut store,
                    Commit {
                        event: None,
                        loan: LoanChange::None,
                        pin: Some((patron.card.clone(), state)),
                    },
                )?;
            }
        }
        match answer.outcome {
            PinOutcome::Right | PinOutcome::NotNeeded => Ok(patron),
            PinOutcome::Wrong => Err(refused(Refusal::new(ErrorCode::WrongPin, ""))),
            PinOutcome::Locked => Err(refused(Refusal::new(ErrorCode::PinLocked, ""))),
            PinOutcome::UnknownPatron => Err(refused(Refusal::new(ErrorCode::UnknownPatron, ""))),
        }
    }

    /// The open sessions, locked; a poisoned lock holds sound data (see [`SharedStore`]).
    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clock_synced(&self) -> bool {
        self.settings.clock.is_synced()
    }

    /// This device's branch, or a plain one when the cache does not hold it yet.
    fn home(&self, store: &Store) -> Result<Branch, StoreError> {
        let id = &self.settings.branch;
        Ok(store.branch(id)?.unwrap_or_else(|| Branch {
            id: id.clone(),
            name: id.to_string(),
            closed_weekdays: Vec::new(),
            require_pin: false,
        }))
    }

    /// The event time for now (never behind the log) and the local date to decide with.
    ///
    /// A board without a battery clock can boot days behind, so until its clock is synced
    /// the date comes from the event time, which is at least that of the last event. Once
    /// the clock is synced the date comes from the clock itself: one bad reading ahead in
    /// the log must not leave cards "expired" and due dates wrong until time catches up.
    fn clock(&self, store: &Store) -> Result<(i64, chrono::NaiveDate), StoreError> {
        let last = store.last_event()?.map(|(_, at)| at);
        let now = now_ms();
        let at = rong_lending::event_time(now, last);
        let basis = if self.clock_synced() { now } else { at };
        Ok((
            at,
            local_date(basis, self.settings.circulation.utc_offset_minutes),
        ))
    }

    /// The basis for lending now.
    fn basis(&self, store: &Store) -> Result<Basis, ApiError> {
        let (at, today) = self.clock(store).map_err(internal)?;
        let branch = self.home(store).map_err(internal)?;
        let closed = store.closed_days(&branch.id, today).map_err(internal)?;
        let rules = store.rules().map_err(internal)?;
        Ok(Basis {
            at,
            today,
            branch,
            closed,
            rules,
        })
    }

    /// An event for `body` at `at`, marked with whether the clock is trusted.
    fn event(&self, body: EventBody, at: i64) -> NewEvent {
        NewEvent {
            body,
            at,
            clock_synced: self.clock_synced(),
        }
    }

    fn commit(&self, store: &mut Store, c: Commit) -> Result<(), ApiError> {
        let logged = store.commit(c).map_err(internal)?;
        if let Some(ev) = logged {
            tracing::info!(seq = ev.seq, kind = ev.body.kind(), "event logged");
            self.new_event.notify_one();
        }
        Ok(())
    }

    /// Works out who is asking: a live session, or a card/UID with its PIN.
    pub fn authenticate(&self, who: &Who) -> Result<Patron, ApiError> {
        self.authenticated(who).map(|a| a.patron)
    }

    /// [`Circulation::authenticate`], with what the visit may do.
    fn authenticated(&self, who: &Who) -> Result<Authenticated, ApiError> {
        if let Some(token) = &who.session {
            let (card, trust) = self
                .sessions()
                .touch(token, Instant::now())
                .ok_or_else(|| ApiError::new(ErrorCode::NoSession, ""))?;
            let store = self.store.lock();
            let (_, today) = self.clock(&store).map_err(internal)?;
            let p = store.patron_by_card(&card).map_err(internal)?;
            let mut patron = rong_lending::check_patron(p.as_ref(), today)
                .cloned()
                .map_err(refused)?;
            patron.staff &= trust.staff;
            return Ok(Authenticated {
                patron,
                sealed_pin: None,
                trust,
            });
        }
        let (mut patron, gate) = {
            let store = self.store.lock();
            let found = match (&who.card, &who.uid) {
                (Some(card), _) => store.patron_by_card(card),
                (None, Some(uid)) => store.patron_by_uid(uid),
                (None, None) => return Err(bad("give a session, a card or a uid")),
            }
            .map_err(internal)?;
            let (at, today) = self.clock(&store).map_err(internal)?;
            let p = rong_lending::check_patron(found.as_ref(), today)
                .map_err(refused)?
                .clone();
            let branch = self.home(&store).map_err(internal)?;
            // The lock is central's, kept here so that it holds offline too.
            let state = store.pin_state(&p.card).map_err(internal)?;
            let gate = rong_lending::pin_gate(&p, &branch, who.pin.as_deref(), state, at)
                .map_err(refused)?;
            (p, gate)
        };
        let checked = |patron: Patron| Authenticated {
            trust: Trust {
                unchecked: false,
                staff: patron.staff,
            },
            patron,
            sealed_pin: None,
        };
        let PinGate::Verify { pin } = gate else {
            return Ok(checked(patron));
        };
        let Some(central) = self.central() else {
            tracing::error!("a PIN was typed but this board is not enrolled: nobody can check it");
            return Err(ApiError::new(
                ErrorCode::Internal,
                "this board is not enrolled, so PINs cannot be checked",
            ));
        };
        // Online, central decides, and its count holds on every device.
        if let Some(answer) = central.authority.check(&patron.card, &pin) {
            return self.take_central_verdict(patron, answer).map(checked);
        }
        // Central cannot be asked: the PIN goes, sealed, with the visit's event for central
        // to check when it arrives. Until then the visit is unchecked.
        let sealed = rong_identity::pin::seal_pin(&central.seal_to, &patron.card, &pin)
            .map_err(|e| bad(&e.to_string()))?;
        // A card number can be read off a card; a tapped card is at least in the hand.
        patron.staff &= who.uid.is_some() || self.settings.circulation.offline_staff_pin;
        tracing::info!("central cannot be asked: the PIN goes sealed with the visit");
        Ok(Authenticated {
            trust: Trust {
                unchecked: true,
                staff: patron.staff,
            },
            patron,
            sealed_pin: Some(sealed),
        })
    }

    /// [`Circulation::authenticated`] for a request that is not an identify: a PIN sealed
    /// for central is logged with an `identify` event of its own, so that central checks it.
    fn authenticated_for_use(&self, who: &Who) -> Result<Authenticated, ApiError> {
        let a = self.authenticated(who)?;
        if let Some(sealed) = &a.sealed_pin {
            let mut store = self.store.lock();
            let (at, _) = self.clock(&store).map_err(internal)?;
            let body = EventBody::Identify {
                patron: a.patron.card.clone(),
                pin: Some(sealed.clone()),
            };
            self.commit(
                &mut store,
                Commit {
                    event: Some(self.event(body, at)),
                    loan: LoanChange::None,
                    pin: None,
                },
            )?;
        }
        Ok(a)
    }

    /// Passes when `session` is a live session of a staff card; digitisation asks this
    /// before every job operation.
    pub fn require_staff(&self, session: &str) -> Result<(), ApiError> {
        if self.authenticated(&session_only(session))?.patron.staff {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::StaffOnly, ""))
        }
    }

    /// Identifies a card or UID (with its PIN) and opens a session for it.
    pub fn identify(&self, who: &Who) -> Result<Reply, ApiError> {
        if who.session.is_some() {
            return Err(bad("identify takes a card or a uid, not a session"));
        }
        let Authenticated {
            patron,
            sealed_pin,
            trust,
        } = self.authenticated(who)?;
        let mut store = self.store.lock();
        let (at, _) = self.clock(&store).map_err(internal)?;
        let loans = store.loan_count(&patron.card).map_err(internal)?;
        let max_loans = store
            .category(&patron.category)
            .map_err(internal)?
            .map_or(0, |c| c.max_loans);
        let body = EventBody::Identify {
            patron: patron.card.clone(),
            pin: sealed_pin,
        };
        self.commit(
            &mut store,
            Commit {
                event: Some(self.event(body, at)),
                loan: LoanChange::None,
                pin: None,
            },
        )?;
        drop(store);
        let session = self.sessions().open(&patron.card, trust, Instant::now());
        Ok(Reply::Identified {
            session,
            patron: PatronView {
                card: patron.card,
                name: patron.name,
                category: patron.category,
                loans,
                max_loans,
                staff: patron.staff,
            },
        })
    }

    /// Ends a session.
    pub fn end_session(&self, session: &str) -> Result<Reply, ApiError> {
        if self.sessions().end(session) {
            Ok(Reply::Done)
        } else {
            Err(ApiError::new(ErrorCode::NoSession, ""))
        }
    }

    /// Lends `item` to whoever `who` is.
    pub fn checkout(&self, who: &Who, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let Authenticated { patron, trust, .. } = self.authenticated_for_use(who)?;
        let mut store = self.store.lock();
        if trust.unchecked {
            // On a PIN nobody has checked yet, only so many loans central has not seen.
            let cap = self.settings.circulation.offline_pin_loans;
            let unseen = store.unacked_checkouts(&patron.card).map_err(internal)?;
            if unseen >= cap {
                return Err(refused(Refusal::new(
                    ErrorCode::OfflinePinLimit,
                    format!("{unseen} loans wait for central"),
                )));
            }
        }
        let basis = self.basis(&store)?;
        let category = store.category(&patron.category).map_err(internal)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let count = store.loan_count(&patron.card).map_err(internal)?;
        let ctx = basis.context();
        let plan = rong_lending::checkout(
            &ctx,
            &patron,
            category.as_ref(),
            found.as_ref(),
            current.as_ref(),
            count,
        )
        .map_err(refused)?;
        if let Some(previous) = &plan.previous_patron {
            tracing::info!(item, previous = %previous, "item was still on loan: closing that loan");
        }
        let title = found.map(|i| i.title).unwrap_or_default();
        let due = plan.loan.due;
        let body = EventBody::Checkout {
            item: item.to_owned(),
            patron: patron.card.clone(),
            due,
        };
        self.commit(
            &mut store,
            Commit {
                event: Some(self.event(body, basis.at)),
                loan: LoanChange::Put(plan.loan),
                pin: None,
            },
        )?;
        Ok(Reply::CheckedOut {
            item: item.to_owned(),
            title,
            due,
        })
    }

    /// Takes `item` back, whoever had it, and says where it belongs.
    pub fn checkin(&self, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let mut store = self.store.lock();
        let (at, _) = self.clock(&store).map_err(internal)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let plan = rong_lending::checkin(found.as_ref(), current.as_ref(), &self.settings.branch);
        let transfer_to_name = match &plan.transfer_to {
            Some(b) => Some(
                store
                    .branch(b)
                    .map_err(internal)?
                    .map_or_else(|| b.to_string(), |b| b.name),
            ),
            None => None,
        };
        let body = EventBody::Checkin {
            item: item.to_owned(),
            // A card number central would refuse is left out, so that the return itself
            // still syncs.
            patron: plan.patron.clone().filter(|p| barcode::is_valid(p)),
        };
        self.commit(
            &mut store,
            Commit {
                event: Some(self.event(body, at)),
                loan: if plan.was_on_loan {
                    LoanChange::Del(item.to_owned())
                } else {
                    LoanChange::None
                },
                pin: None,
            },
        )?;
        Ok(Reply::CheckedIn {
            item: item.to_owned(),
            title: found.map(|i| i.title),
            was_on_loan: plan.was_on_loan,
            transfer_to: plan.transfer_to,
            transfer_to_name,
        })
    }

    /// Renews `item` for whoever `who` is.
    pub fn renew(&self, who: &Who, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let patron = self.authenticated_for_use(who)?.patron;
        let mut store = self.store.lock();
        let basis = self.basis(&store)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let ctx = basis.context();
        let loan = rong_lending::renew(&ctx, &patron, found.as_ref(), current.as_ref())
            .map_err(refused)?;
        let (due, renewals) = (loan.due, loan.renewals);
        let body = EventBody::Renew {
            item: item.to_owned(),
            patron: patron.card.clone(),
            due,
            renewals,
        };
        self.commit(
            &mut store,
            Commit {
                event: Some(self.event(body, basis.at)),
                loan: LoanChange::Put(loan),
                pin: None,
            },
        )?;
        Ok(Reply::Renewed {
            item: item.to_owned(),
            title: found.map(|i| i.title).unwrap_or_default(),
            due,
            renewals,
        })
    }

    /// The loans of whoever `who` is, soonest due first.
    pub fn loans(&self, who: &Who) -> Result<Reply, ApiError> {
        let patron = self.authenticated_for_use(who)?.patron;
        let store = self.store.lock();
        let (_, today) = self.clock(&store).map_err(internal)?;
        let loans = store
            .loans_of(&patron.card)
            .map_err(internal)?
            .into_iter()
            .map(|(l, title)| LoanView {
                overdue: l.due < today,
                title: title.unwrap_or_default(),
                item: l.item,
                due: l.due,
                renewals: l.renewals,
            })
            .collect();
        Ok(Reply::Loans { loans })
    }

    /// Searches the catalogue held here.
    pub fn search(&self, q: &str, limit: Option<u32>) -> Result<Reply, ApiError> {
        let Some(query) = rong_protocol::search::Query::parse(q) else {
            return Ok(Reply::SearchResults { hits: Vec::new() });
        };
        let limit = rong_protocol::search::clamp_limit(limit.map(|l| l as usize));
        let hits = self
            .store
            .lock()
            .search(&query, limit, &self.settings.branch)
            .map_err(internal)?;
        Ok(Reply::SearchResults { hits })
    }

    /// Prints the session's loans among `items` on the receipt printer.
    pub fn print_receipt(&self, session: &str, items: &[String]) -> Result<Reply, ApiError> {
        let patron = self.authenticate(&session_only(session))?;
        let receipt = {
            let store = self.store.lock();
            let (at, _) = self.clock(&store).map_err(internal)?;
            let branch = self.home(&store).map_err(internal)?;
            let lines = store
                .loans_of(&patron.card)
                .map_err(internal)?
                .into_iter()
                .filter(|(l, _)| items.contains(&l.item))
                .map(|(l, title)| rong_hardware::printer::ReceiptItem {
                    title: title.unwrap_or_default(),
                    barcode: l.item,
                    due: l.due,
                })
                .collect::<Vec<_>>();
            if lines.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::NotOnLoan,
                    "none of these items is on loan to this patron",
                ));
            }
            let offset =
                chrono::FixedOffset::east_opt(self.settings.circulation.utc_offset_minutes * 60)
                    .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
            let printed_at = chrono::DateTime::from_timestamp_millis(at)
                .unwrap_or_default()
                .with_timezone(&offset)
                .naive_local();
            rong_hardware::printer::Receipt {
                library: branch.name,
                title: Some("Phiếu mượn sách / Loan receipt".into()),
                printed_at,
                // Masked: a receipt left on the kiosk names nobody.
                patron: Some(rong_protocol::privacy::mask_name(&patron.name)),
                items: lines,
                footer: "Cảm ơn bạn! / Thank you!".into(),
                qr: true,
            }
        };
        self.hardware.print(&receipt)?;
        Ok(Reply::Done)
    }
}

#[cfg(test)]
mod tests;
