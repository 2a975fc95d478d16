//! The lending flows: identifying a reader (card, NFC, PIN), borrowing, returning, the
//! account with its renewals, and the receipt.

use std::time::Instant;

use rong_protocol::api::{ApiError, ErrorCode, LoanView, Reply, RequestOp, Signal, Who};

use super::{
    Action, Credential, Effect, Kiosk, Notice, Pending, PrintOutcome, Purpose, Row, RowState,
    Screen, Session,
};

/// The longest PIN.
const MAX_PIN: usize = 8;

impl Kiosk {
    /// The "tap your card" screen, for borrowing or the account.
    pub(super) fn begin_identify(&mut self, purpose: Purpose) {
        self.purpose = purpose;
        self.credential = None;
        self.pin.clear();
        self.pin_error = None;
        self.screen = Screen::Identify;
    }

    /// Asks the agent who this card is (with the PIN, once typed).
    pub(super) fn identify(&mut self, c: Credential, pin: Option<String>, fx: &mut Vec<Effect>) {
        let mut who = Who {
            pin,
            ..Who::default()
        };
        match &c {
            Credential::Card(card) => who.card = Some(card.clone()),
            Credential::Uid(uid) => who.uid = Some(uid.clone()),
        }
        self.credential = Some(c.clone());
        self.identifying = true;
        self.request(Pending::Identify(c), RequestOp::Identify(who), fx);
    }

    /// The PIN pad.
    pub(super) fn pin_action(&mut self, a: Action, fx: &mut Vec<Effect>) {
        match a {
            Action::PinDigit(d) if d < 10 && self.pin.len() < MAX_PIN => {
                self.pin.push(char::from(b'0' + d));
            }
            Action::PinBack => {
                self.pin.pop();
            }
            Action::PinOk if !self.pin.is_empty() && !self.identifying => {
                if let Some(c) = self.credential.clone() {
                    let pin = std::mem::take(&mut self.pin);
                    self.identify(c, Some(pin), fx);
                }
            }
            _ => {}
        }
    }

    /// Touches on the borrow, receipt and account screens.
    pub(super) fn lending_action(&mut self, a: Action, now: Instant, fx: &mut Vec<Effect>) {
        use Action as A;
        match (self.screen, a) {
            (Screen::Borrow, A::Finish) if !self.busy() => {
                if self
                    .rows
                    .iter()
                    .any(|r| matches!(r.state, RowState::Lent(_)))
                {
                    self.screen = Screen::Receipt;
                } else {
                    self.logout(now, fx);
                }
            }
            (Screen::Receipt, A::Print) => {
                let items = self.lent_items();
                if let Some(s) = &self.session {
                    let op = RequestOp::PrintReceipt {
                        session: s.id.clone(),
                        items,
                    };
                    self.print = Some(PrintOutcome::Printing);
                    self.request(Pending::Print, op, fx);
                }
            }
            (Screen::Receipt, A::NoReceipt) => {
                self.print = Some(PrintOutcome::NoReceipt);
                self.screen = Screen::Summary;
            }
            (Screen::Account, A::Renew(item)) => self.renew(item, fx),
            (Screen::Account, A::RenewAll) => {
                let items: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.state != RowState::Pending)
                    .map(|r| r.item.clone())
                    .collect();
                for item in items {
                    self.renew(item, fx);
                }
            }
            _ => {}
        }
    }

    fn renew(&mut self, item: String, fx: &mut Vec<Effect>) {
        let who = self.session_who();
        if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
            if r.state == RowState::Pending {
                return;
            }
            r.state = RowState::Pending;
            self.request(
                Pending::Renew(item.clone()),
                RequestOp::Renew { who, item },
                fx,
            );
        }
    }

    fn lent_items(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Lent(_)))
            .map(|r| r.item.clone())
            .collect()
    }

    /// An item scanned on the borrow screen.
    pub(super) fn borrow_scan(&mut self, code: String, now: Instant, fx: &mut Vec<Effect>) {
        if let Some(r) = self.rows.iter().find(|r| r.item == code) {
            if !matches!(r.state, RowState::Refused(_) | RowState::Unconfirmed) {
                self.notify(Notice::AlreadyScanned, now);
                return;
            }
        }
        self.pending_row(&code);
        let op = RequestOp::Checkout {
            who: self.session_who(),
            item: code.clone(),
        };
        self.request(Pending::Checkout(code), op, fx);
    }

    /// Puts `item` last in the list, waiting for the agent (replacing an earlier row).
    fn pending_row(&mut self, item: &str) {
        self.rows.retain(|r| r.item != item);
        self.rows.push(Row {
            item: item.to_owned(),
            title: String::new(),
            due: None,
            overdue: false,
            state: RowState::Pending,
        });
    }

    /// An item scanned on the return screen.
    pub(super) fn return_scan(&mut self, code: String, fx: &mut Vec<Effect>) {
        if self
            .rows
            .iter()
            .any(|r| r.item == code && r.state == RowState::Pending)
        {
            return;
        }
        self.pending_row(&code);
        let op = RequestOp::Checkin { item: code.clone() };
        self.request(Pending::Checkin(code), op, fx);
    }

    /// A card on the NFC reader.
    pub(super) fn card(&mut self, uid: String, now: Instant, fx: &mut Vec<Effect>) {
        match self.screen {
            _ if self.identifying || self.session.is_some() => {
                if self.session.is_none() || self.credential != Some(Credential::Uid(uid)) {
                    self.notify(Notice::OtherCard, now);
                }
            }
            Screen::Start => {
                self.begin_identify(Purpose::Borrow);
                self.identify(Credential::Uid(uid), None, fx);
            }
            Screen::Identify => self.identify(Credential::Uid(uid), None, fx),
            Screen::Return => self.notify(Notice::NoCardNeeded, now),
            _ => self.notify(Notice::OtherCard, now),
        }
    }

    /// The agent identified the reader, or did not.
    pub(super) fn identify_reply(
        &mut self,
        result: Result<Reply, ApiError>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        self.identifying = false;
        if !matches!(self.screen, Screen::Identify | Screen::Pin) {
            // The reader left meanwhile; close what the agent opened.
            if let Ok(Reply::Identified { session, .. }) = result {
                self.request(Pending::Quiet, RequestOp::EndSession { session }, fx);
            }
            return;
        }
        self.identified(result, now, fx);
    }

    /// The agent took an item back, or refused.
    pub(super) fn checked_in(
        &mut self,
        item: String,
        result: Result<Reply, ApiError>,
        fx: &mut Vec<Effect>,
    ) {
        self.settle(&item, result, |r, reply| {
            let Reply::CheckedIn {
                title,
                transfer_to,
                transfer_to_name,
                ..
            } = reply
            else {
                return false;
            };
            r.title = title.unwrap_or_default();
            r.state = match (transfer_to_name, transfer_to) {
                (Some(name), _) => RowState::Transfer(name),
                (None, Some(b)) => RowState::Transfer(b.to_string()),
                (None, None) => RowState::Returned,
            };
            true
        });
        let sig = match self.rows.iter().find(|r| r.item == item).map(|r| &r.state) {
            Some(RowState::Returned) => Signal::Success,
            Some(RowState::Transfer(_)) => Signal::Attention,
            _ => Signal::Error,
        };
        self.signal(sig, fx);
    }

    /// Writes the agent's answer about `item` into its row (see [`Self::settle`]); the
    /// lights say whether the agent agreed. For checkouts ([`lent`]) and renewals
    /// ([`renewed`]).
    pub(super) fn settle_signalled(
        &mut self,
        item: &str,
        result: Result<Reply, ApiError>,
        fill: fn(&mut Row, Reply) -> bool,
        fx: &mut Vec<Effect>,
    ) {
        let signal = if result.is_ok() {
            Signal::Success
        } else {
            Signal::Error
        };
        self.settle(item, result, fill);
        self.signal(signal, fx);
    }

    /// Writes the agent's answer about `item` into its row. `fill` takes a reply and says
    /// whether it was the kind the request expects; any other kind leaves the row
    /// unconfirmed, and a refusal shows why.
    fn settle(
        &mut self,
        item: &str,
        result: Result<Reply, ApiError>,
        fill: impl FnOnce(&mut Row, Reply) -> bool,
    ) {
        let Some(r) = self.rows.iter_mut().find(|r| r.item == item) else {
            return;
        };
        match result {
            Ok(reply) => {
                if !fill(r, reply) {
                    r.state = RowState::Unconfirmed;
                }
            }
            Err(e) => r.state = RowState::Refused(e),
        }
    }

    /// The reader's loans, for the account screen.
    pub(super) fn loans_reply(&mut self, result: Result<Reply, ApiError>, now: Instant) {
        self.loading = false;
        match result {
            Ok(Reply::Loans { loans }) => self.rows = loans.into_iter().map(loan_row).collect(),
            Ok(_) => {}
            Err(e) => self.notify(Notice::Agent(e), now),
        }
    }

    /// The receipt printed, or did not.
    pub(super) fn printed(&mut self, result: Result<Reply, ApiError>) {
        self.print = Some(match result {
            Ok(_) => PrintOutcome::Printed,
            Err(e) => PrintOutcome::Failed(e),
        });
        if self.screen == Screen::Receipt {
            self.screen = Screen::Summary;
        }
    }

    fn identified(&mut self, result: Result<Reply, ApiError>, now: Instant, fx: &mut Vec<Effect>) {
        match result {
            Ok(Reply::Identified { session, patron }) => {
                self.pin.clear();
                self.pin_error = None;
                self.rows.clear();
                let staff = patron.staff;
                self.session = Some(Session {
                    id: session,
                    patron,
                });
                self.signal(Signal::Success, fx);
                if staff {
                    self.screen = Screen::Staff;
                    self.poll(now, fx);
                } else if self.purpose == Purpose::Borrow {
                    self.screen = Screen::Borrow;
                } else {
                    self.screen = Screen::Account;
                    self.loading = true;
                    let who = self.session_who();
                    self.request(Pending::Loans, RequestOp::Loans(who), fx);
                }
            }
            Ok(_) => self.notify(Notice::NotReached, now),
            Err(e) => match e.code {
                ErrorCode::PinRequired => {
                    self.pin.clear();
                    self.pin_error = None;
                    self.screen = Screen::Pin;
                    self.signal(Signal::Attention, fx);
                }
                ErrorCode::WrongPin => {
                    self.pin.clear();
                    self.pin_error = Some(e);
                    self.screen = Screen::Pin;
                    self.signal(Signal::Error, fx);
                }
                _ => {
                    self.credential = None;
                    self.pin.clear();
                    self.refusal = Some(e);
                    self.screen = Screen::Refused;
                    self.signal(Signal::Error, fx);
                }
            },
        }
    }
}

fn loan_row(l: LoanView) -> Row {
    Row {
        item: l.item,
        title: l.title,
        due: Some(l.due),
        overdue: l.overdue,
        state: RowState::Loan,
    }
}

/// Fills a row from the agent's checkout reply; `false` for any other reply.
pub(super) fn lent(r: &mut Row, reply: Reply) -> bool {
    let Reply::CheckedOut { title, due, .. } = reply else {
        return false;
    };
    r.title = title;
    r.state = RowState::Lent(due);
    true
}

/// Fills a row from the agent's renewal reply; `false` for any other reply.
pub(super) fn renewed(r: &mut Row, reply: Reply) -> bool {
    let Reply::Renewed { due, .. } = reply else {
        return false;
    };
    r.due = Some(due);
    r.overdue = false;
    r.state = RowState::Renewed(due);
    true
}

#[cfg(test)]
mod tests;
