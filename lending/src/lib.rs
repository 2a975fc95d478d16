//! Rông's lending rules, as plain functions over plain values.
//!
//! This crate decides, and only decides. Given a patron, an item, its current loan and the
//! library's reference data (branch, closed days, loan rules, categories), it says whether a
//! reader may be identified ([`check_patron`]), whether a PIN must be checked and what a
//! wrong one costs ([`pin_gate`], [`pin_result`]), whether a checkout or renewal is allowed
//! and with which due date ([`checkout`], [`renew`], [`due_date`] past closed days), what a
//! return does ([`checkin`]), and how many loans a category allows ([`under_limit`]). For
//! central it decides what an event a device made offline does to the loans central holds,
//! and which notices staff get ([`reconcile`]). The edge-agent, central and the staff desk
//! all lend by these same functions, so a kiosk and central cannot disagree on a rule.
//!
//! Everything else is the caller's: reading the database, the clock ("today" and "now" are
//! arguments), verifying a PIN hash, writing the loan and its event, and turning a
//! [`Refusal`] into words. Nothing here does I/O.

mod due;
mod loan;
pub mod lunar;
mod patron;
pub mod reconcile;
mod refusal;

pub use due::{due_date, find_rule, is_open, renewal_start, LendingContext};
pub use loan::{checkin, checkout, event_time, renew, under_limit, CheckinPlan, CheckoutPlan};
pub use patron::{
    check_patron, pin_gate, pin_needed, pin_result, PinGate, PinPolicy, PinState, PinVerdict,
};
pub use refusal::Refusal;

#[cfg(test)]
mod fixtures;
