//! The kiosk's side of the staff scanning desk: which touches on the scanning screens go
//! to [`Desk`], and which screen follows its replies.

use std::time::Instant;

use rong_protocol::api::{ApiError, Reply};

use super::desk::{Desk, DeskPending, Next, Out};
use super::{Action, Effect, Kiosk, Notice, Pending, Screen};

impl Kiosk {
    /// Runs a desk step with the staff session and sends what it asks for.
    pub(super) fn desk_step(
        &mut self,
        now: Instant,
        fx: &mut Vec<Effect>,
        f: impl FnOnce(&mut Desk, &str, Instant, &mut Out),
    ) {
        let Some(s) = self.session.as_ref().map(|s| s.id.clone()) else {
            return;
        };
        let mut out = Out::new();
        f(&mut self.desk, &s, now, &mut out);
        self.desk_requests(out, fx);
    }

    pub(super) fn desk_requests(&mut self, out: Out, fx: &mut Vec<Effect>) {
        for (p, op) in out {
            self.request(Pending::Desk(p), op, fx);
        }
    }

    pub(super) fn desk_action(&mut self, a: Action, now: Instant, fx: &mut Vec<Effect>) {
        use Action as A;
        match (self.screen, a) {
            (Screen::Scanning, A::NewJob) => {
                self.query.clear();
                self.hits = None;
                self.screen = Screen::JobNew;
            }
            (Screen::Scanning, A::OpenJob(job)) => {
                self.desk_step(now, fx, |d, s, _, out| d.open(s, job, out))
            }
            (Screen::Scanning, A::Refresh) => {
                self.desk_step(now, fx, |d, s, now, out| d.list(s, now, out))
            }
            (
                Screen::JobNew,
                a @ (A::SearchKey(_) | A::SearchBack | A::SearchGo | A::SearchEdit),
            ) => self.search_action(a, fx),
            (Screen::JobNew, A::PickRecord(r)) => {
                self.desk_step(now, fx, |d, s, _, out| d.start_record(s, r, out))
            }
            (Screen::JobNew, A::Describe) => {
                self.desk.new_form();
                self.screen = Screen::JobDescribe;
            }
            (Screen::JobDescribe, A::SearchKey(c)) => self.desk.type_char(c),
            (Screen::JobDescribe, A::SearchBack) => self.desk.back(),
            (Screen::JobDescribe, A::FormField(f)) => self.desk.choose(f),
            (Screen::JobDescribe, A::FormMark(m)) => self.desk.mark(m),
            (Screen::JobDescribe, A::FormShift) => self.desk.shift = !self.desk.shift,
            (Screen::JobDescribe, A::StartJob) => self.desk_step(now, fx, |d, s, _, out| {
                d.start_described(s, out);
            }),
            (Screen::JobNew | Screen::JobDescribe | Screen::JobPages, A::ScanJobs) => {
                self.screen = Screen::Scanning;
                self.desk_step(now, fx, |d, s, now, out| d.list(s, now, out));
            }
            (Screen::JobPages, A::ScanOne) => {
                self.desk_step(now, fx, |d, s, _, out| d.scan(s, false, out))
            }
            (Screen::JobPages, A::ScanBatch) => {
                self.desk_step(now, fx, |d, s, _, out| d.scan(s, true, out))
            }
            (Screen::JobPages, A::SelectPage(p)) => self.desk.select(p),
            (Screen::JobPages, A::PageRescan) => {
                self.desk_step(now, fx, |d, s, _, out| d.rescan(s, out))
            }
            (Screen::JobPages, A::PageDelete) => {
                self.desk_step(now, fx, |d, s, _, out| d.delete(s, out))
            }
            (Screen::JobPages, A::PageLeft) => {
                self.desk_step(now, fx, |d, s, _, out| d.shift_page(s, -1, out))
            }
            (Screen::JobPages, A::PageRight) => {
                self.desk_step(now, fx, |d, s, _, out| d.shift_page(s, 1, out))
            }
            (Screen::JobPages, A::RotateRight) => {
                self.desk_step(now, fx, |d, s, _, out| d.rotate(s, 1, out))
            }
            (Screen::JobPages, A::RotateLeft) => {
                self.desk_step(now, fx, |d, s, _, out| d.rotate(s, -1, out))
            }
            (Screen::JobPages, A::DismissProblem) => self.desk.problem = None,
            (Screen::JobPages, A::FinishJob) if self.desk.can_edit() => {
                self.screen = Screen::JobFinish
            }
            (Screen::JobFinish, A::KeepScanning) => self.screen = Screen::JobPages,
            (Screen::JobFinish, A::ConfirmFinish) => {
                self.desk_step(now, fx, |d, s, _, out| d.close(s, false, out))
            }
            (Screen::JobFinish, A::DiscardJob) => {
                self.desk_step(now, fx, |d, s, _, out| d.close(s, true, out))
            }
            _ => {}
        }
    }

    pub(super) fn desk_reply(
        &mut self,
        p: DeskPending,
        result: Result<Reply, ApiError>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(s) = self.session.as_ref().map(|s| s.id.clone()) else {
            return;
        };
        let mut out = Out::new();
        let next = self.desk.reply(p, result, &s, now, &mut out);
        self.desk_requests(out, fx);
        self.desk_next(next, now);
    }

    pub(super) fn desk_next(&mut self, next: Next, now: Instant) {
        match next {
            Next::Stay => {}
            Next::Pages => {
                if matches!(
                    self.screen,
                    Screen::Scanning | Screen::JobNew | Screen::JobDescribe
                ) {
                    self.screen = Screen::JobPages;
                }
            }
            Next::Jobs => {
                if matches!(self.screen, Screen::JobFinish | Screen::JobPages) {
                    self.screen = Screen::Scanning;
                }
            }
            Next::Notice(e) => self.notify(Notice::Agent(e), now),
            Next::NotReached => self.notify(Notice::NotReached, now),
        }
    }
}
#[cfg(test)]
mod tests;
