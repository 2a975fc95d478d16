//! The agent's shared state and the circulation service: it reads the store, asks the pure
//! lending rules in [`rong_lending`], and commits the result with its event. Every method
//! here blocks (SQLite, argon2): call them from `spawn_blocking`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use rong_lending::{LendingContext, PinGate, PinPolicy, Refusal};
use rong_protocol::api::{
    AgentStatus, ApiError, ErrorCode, LoanView, PatronView, Push, Reply, RequestOp, Who,
};
use rong_protocol::barcode;
use rong_protocol::delta::{Branch, Patron};
use rong_protocol::event::EventBody;
use rong_protocol::time::local_date;
use tokio::sync::{broadcast, Notify};

use crate::config::Config;
use crate::hardware::Hardware;
use crate::session::Sessions;
use crate::store::{Commit, LoanChange, NewEvent, Store, StoreError};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Everything the agent's tasks share.
#[derive(Debug)]
pub struct Agent {
    /// The configuration it started with.
    pub config: Config,
    store: Mutex<Store>,
    sessions: Mutex<Sessions>,
    /// The readers.
    pub hardware: Hardware,
    /// Pushes to API subscribers.
    pub pushes: broadcast::Sender<Push>,
    /// Woken when an event is written.
    pub new_event: Notify,
    /// Woken by the API's `sync_now`.
    pub sync_now: Notify,
    /// Whether MQTT is connected.
    pub online: AtomicBool,
    /// Payloads refused since start.
    pub rejected: AtomicU64,
    /// Changes at every start.
    pub boot_id: String,
    /// When the agent started, ms since the epoch.
    pub started_at: i64,
    /// Digitisation: the uploader's wake-up and progress.
    pub digitise: crate::digitise::DigitiseState,
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

impl Agent {
    /// Builds the shared state around an open store.
    pub fn new(
        config: Config,
        store: Store,
        hardware: Hardware,
        pushes: broadcast::Sender<Push>,
    ) -> Self {
        let idle = Duration::from_secs(config.circulation.session_idle_secs);
        Self {
            config,
            store: Mutex::new(store),
            sessions: Mutex::new(Sessions::new(idle)),
            hardware,
            pushes,
            new_event: Notify::new(),
            sync_now: Notify::new(),
            online: AtomicBool::new(false),
            rejected: AtomicU64::new(0),
            boot_id: uuid::Uuid::now_v7().to_string(),
            started_at: now_ms(),
            digitise: crate::digitise::DigitiseState::default(),
        }
    }

    /// The store, locked. A poisoned lock only means another thread panicked mid-call;
    /// SQLite rolled its transaction back, so the data is sound.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a refused payload.
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    fn policy(&self) -> PinPolicy {
        PinPolicy {
            max_attempts: self.config.circulation.pin_max_attempts,
            lock_minutes: self.config.circulation.pin_lock_minutes,
        }
    }

    fn clock_synced(&self) -> bool {
        self.config.clock.synced.is_synced()
    }

    /// This device's branch, or a plain one when the cache does not hold it yet.
    fn home(store: &Store, config: &Config) -> Result<Branch, StoreError> {
        Ok(store.branch(&config.branch)?.unwrap_or_else(|| Branch {
            id: config.branch.clone(),
            name: config.branch.to_string(),
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
            local_date(basis, self.config.circulation.utc_offset_minutes),
        ))
    }

    fn commit(&self, store: &mut Store, c: Commit) -> Result<(), ApiError> {
        let logged = store.commit(c).map_err(internal)?;
        if let Some(ev) = logged {
            tracing::info!(seq = ev.seq, kind = ev.body.kind(), "event logged");
            self.new_event.notify_one();
        }
        Ok(())
    }

    /// Answers one request (all but `subscribe`, which the connection handles).
    pub fn handle(&self, op: RequestOp) -> Result<Reply, ApiError> {
        match op {
            RequestOp::Identify(who) => self.identify(&who),
            RequestOp::EndSession { session } => {
                if self.sessions().end(&session) {
                    Ok(Reply::Done)
                } else {
                    Err(ApiError::new(ErrorCode::NoSession, ""))
                }
            }
            RequestOp::Checkout { who, item } => self.checkout(&who, &item),
            RequestOp::Checkin { item } => self.checkin(&item),
            RequestOp::Renew { who, item } => self.renew(&who, &item),
            RequestOp::Loans(who) => self.loans(&who),
            RequestOp::Status => Ok(Reply::Status(self.status().map_err(internal)?)),
            RequestOp::SyncNow => {
                self.sync_now.notify_one();
                Ok(Reply::Done)
            }
            RequestOp::SimScan { code } => self.hardware.sim_scan(&code).map(|()| Reply::Done),
            RequestOp::SimTap { uid } => self.hardware.sim_tap(&uid).map(|()| Reply::Done),
            RequestOp::SimRemove => self.hardware.sim_remove().map(|()| Reply::Done),
            RequestOp::Subscribe => Ok(Reply::Done),
            RequestOp::Search { q, limit } => self.search(&q, limit),
            RequestOp::Signal { signal } => {
                self.hardware.signal(signal);
                Ok(Reply::Done)
            }
            RequestOp::PrintReceipt { session, items } => self.print_receipt(&session, &items),
            RequestOp::SimPrinter { state } => {
                self.hardware.sim_printer(state).map(|()| Reply::Done)
            }
            op @ (RequestOp::JobStart { .. }
            | RequestOp::JobList { .. }
            | RequestOp::JobGet { .. }
            | RequestOp::JobScan { .. }
            | RequestOp::PageRescan { .. }
            | RequestOp::PageDelete { .. }
            | RequestOp::PageMove { .. }
            | RequestOp::PageRotate { .. }
            | RequestOp::PageImage { .. }
            | RequestOp::JobFinish { .. }
            | RequestOp::JobDiscard { .. }
            | RequestOp::SimDocScanner { .. }) => crate::digitise::ops::handle(self, op),
        }
    }

    /// Works out who is asking: a live session, or a card/UID with its PIN.
    pub(crate) fn authenticate(&self, who: &Who) -> Result<Patron, ApiError> {
        if let Some(token) = &who.session {
            let card = self
                .sessions()
                .touch(token, Instant::now())
                .ok_or_else(|| ApiError::new(ErrorCode::NoSession, ""))?;
            let store = self.store();
            let (_, today) = self.clock(&store).map_err(internal)?;
            let p = store.patron_by_card(&card).map_err(internal)?;
            return rong_lending::check_patron(p.as_ref(), today)
                .cloned()
                .map_err(refused);
        }
        let (patron, gate) = {
            let store = self.store();
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
            let branch = Self::home(&store, &self.config).map_err(internal)?;
            let state = store.pin_state(&p.card).map_err(internal)?;
            let gate = rong_lending::pin_gate(&p, &branch, who.pin.as_deref(), state, at)
                .map_err(refused)?;
            (p, gate)
        };
        let PinGate::Verify { pin, hash } = gate else {
            return Ok(patron);
        };
        // argon2 is slow on purpose: verify without holding the store.
        let right = verify_pin(&pin, &hash);
        let mut store = self.store();
        let (at, _) = self.clock(&store).map_err(internal)?;
        // Count from the record as it is now, not as it was before verifying: attempts
        // made in parallel must each count, and a lock set meanwhile must hold.
        let pin_state = store.pin_state(&patron.card).map_err(internal)?;
        if pin_state.locked_until.is_some_and(|t| t > at) {
            return Err(refused(Refusal::new(ErrorCode::PinLocked, "")));
        }
        let verdict = rong_lending::pin_result(right, pin_state, self.policy(), at);
        if verdict.state != pin_state || verdict.locked_now {
            let event = verdict.locked_now.then(|| NewEvent {
                body: EventBody::PinLocked {
                    patron: patron.card.clone(),
                },
                at,
                clock_synced: self.clock_synced(),
            });
            self.commit(
                &mut store,
                Commit {
                    event,
                    loan: LoanChange::None,
                    pin: Some((patron.card.clone(), verdict.state)),
                },
            )?;
        }
        verdict.outcome.map(|()| patron).map_err(refused)
    }

    fn identify(&self, who: &Who) -> Result<Reply, ApiError> {
        if who.session.is_some() {
            return Err(bad("identify takes a card or a uid, not a session"));
        }
        let patron = self.authenticate(who)?;
        let mut store = self.store();
        let (at, _) = self.clock(&store).map_err(internal)?;
        let loans = store.loan_count(&patron.card).map_err(internal)?;
        let max_loans = store
            .category(&patron.category)
            .map_err(internal)?
            .map_or(0, |c| c.max_loans);
        self.commit(
            &mut store,
            Commit {
                event: Some(NewEvent {
                    body: EventBody::Identify {
                        patron: patron.card.clone(),
                    },
                    at,
                    clock_synced: self.clock_synced(),
                }),
                loan: LoanChange::None,
                pin: None,
            },
        )?;
        drop(store);
        let session = self.sessions().open(&patron.card, Instant::now());
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

    fn checkout(&self, who: &Who, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let patron = self.authenticate(who)?;
        let mut store = self.store();
        let (at, today) = self.clock(&store).map_err(internal)?;
        let branch = Self::home(&store, &self.config).map_err(internal)?;
        let closed = store.closed_days(&branch.id, today).map_err(internal)?;
        let rules = store.rules().map_err(internal)?;
        let category = store.category(&patron.category).map_err(internal)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let count = store.loan_count(&patron.card).map_err(internal)?;
        let ctx = LendingContext {
            today,
            branch: &branch,
            closed: &closed,
            rules: &rules,
        };
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
        self.commit(
            &mut store,
            Commit {
                event: Some(NewEvent {
                    body: EventBody::Checkout {
                        item: item.to_owned(),
                        patron: patron.card.clone(),
                        due,
                    },
                    at,
                    clock_synced: self.clock_synced(),
                }),
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

    fn checkin(&self, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let mut store = self.store();
        let (at, _) = self.clock(&store).map_err(internal)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let plan = rong_lending::checkin(found.as_ref(), current.as_ref(), &self.config.branch);
        let transfer_to_name = match &plan.transfer_to {
            Some(b) => Some(
                store
                    .branch(b)
                    .map_err(internal)?
                    .map_or_else(|| b.to_string(), |b| b.name),
            ),
            None => None,
        };
        self.commit(
            &mut store,
            Commit {
                event: Some(NewEvent {
                    body: EventBody::Checkin {
                        item: item.to_owned(),
                        // A card number central would refuse is left out, so that the
                        // return itself still syncs.
                        patron: plan.patron.clone().filter(|p| barcode::is_valid(p)),
                    },
                    at,
                    clock_synced: self.clock_synced(),
                }),
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

    fn renew(&self, who: &Who, item: &str) -> Result<Reply, ApiError> {
        check_item_code(item)?;
        let patron = self.authenticate(who)?;
        let mut store = self.store();
        let (at, today) = self.clock(&store).map_err(internal)?;
        let branch = Self::home(&store, &self.config).map_err(internal)?;
        let closed = store.closed_days(&branch.id, today).map_err(internal)?;
        let rules = store.rules().map_err(internal)?;
        let found = store.item(item).map_err(internal)?;
        let current = store.loan(item).map_err(internal)?;
        let ctx = LendingContext {
            today,
            branch: &branch,
            closed: &closed,
            rules: &rules,
        };
        let loan = rong_lending::renew(&ctx, &patron, found.as_ref(), current.as_ref())
            .map_err(refused)?;
        let (due, renewals) = (loan.due, loan.renewals);
        self.commit(
            &mut store,
            Commit {
                event: Some(NewEvent {
                    body: EventBody::Renew {
                        item: item.to_owned(),
                        patron: patron.card.clone(),
                        due,
                        renewals,
                    },
                    at,
                    clock_synced: self.clock_synced(),
                }),
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

    fn loans(&self, who: &Who) -> Result<Reply, ApiError> {
        let patron = self.authenticate(who)?;
        let store = self.store();
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
    fn search(&self, q: &str, limit: Option<u32>) -> Result<Reply, ApiError> {
        let Some(query) = rong_protocol::search::Query::parse(q) else {
            return Ok(Reply::SearchResults { hits: Vec::new() });
        };
        let limit = rong_protocol::search::clamp_limit(limit.map(|l| l as usize));
        let hits = self
            .store()
            .search(&query, limit, &self.config.branch)
            .map_err(internal)?;
        Ok(Reply::SearchResults { hits })
    }

    /// Prints the session's loans among `items` on the receipt printer.
    fn print_receipt(&self, session: &str, items: &[String]) -> Result<Reply, ApiError> {
        let who = Who {
            session: Some(session.to_owned()),
            ..Who::default()
        };
        let patron = self.authenticate(&who)?;
        let receipt = {
            let store = self.store();
            let (at, _) = self.clock(&store).map_err(internal)?;
            let branch = Self::home(&store, &self.config).map_err(internal)?;
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
                chrono::FixedOffset::east_opt(self.config.circulation.utc_offset_minutes * 60)
                    .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
            let printed_at = chrono::DateTime::from_timestamp_millis(at)
                .unwrap_or_default()
                .with_timezone(&offset)
                .naive_local();
            rong_hardware::printer::Receipt {
                library: branch.name,
                title: Some("Phiếu mượn sách / Loan receipt".into()),
                printed_at,
                patron: Some(patron.name.clone()),
                items: lines,
                footer: "Cảm ơn bạn! / Thank you!".into(),
                qr: true,
            }
        };
        self.hardware.print(&receipt)?;
        Ok(Reply::Done)
    }

    /// The sync state for the API.
    pub fn status(&self) -> Result<AgentStatus, StoreError> {
        let store = self.store();
        let last_seq = store.last_seq()?;
        let acked_through = store.acked_through()?;
        let oldest = store.oldest_unacked_at()?;
        Ok(AgentStatus {
            device: self.config.device.clone(),
            branch: self.config.branch.clone(),
            online: self.online.load(Ordering::Relaxed),
            outbox_depth: last_seq - acked_through.min(last_seq),
            oldest_unsynced_age_s: oldest
                .map(|at| (now_ms().saturating_sub(at).max(0) / 1000) as u64),
            last_seq,
            acked_through,
            catalogue_version: store.version()?,
            rejected_messages: self.rejected.load(Ordering::Relaxed),
            hardware: self.hardware.health(),
            digitise: crate::digitise::status(self, &store)?,
        })
    }
}

/// Checks a PIN against an argon2 PHC hash. A malformed hash never matches.
pub fn verify_pin(pin: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "malformed PIN hash");
            false
        }
    }
}

#[cfg(test)]
mod tests;
