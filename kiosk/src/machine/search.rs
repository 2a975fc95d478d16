//! Finding a book: the on-screen keyboard, the search request and its results. The staff
//! desk's "find the record for a new job" screen uses the same.

use std::time::Instant;

use rong_protocol::api::{ApiError, Reply, RequestOp};

use super::{Action, Effect, Kiosk, Notice, Pending, Screen};

/// The longest search text.
const MAX_QUERY: usize = 60;

impl Kiosk {
    /// The search screen, empty.
    pub(super) fn open_search(&mut self) {
        self.query.clear();
        self.hits = None;
        self.screen = Screen::Search;
    }

    /// The keyboard and the search button.
    pub(super) fn search_action(&mut self, a: Action, fx: &mut Vec<Effect>) {
        match a {
            Action::SearchKey(c) if self.query.chars().count() < MAX_QUERY => {
                self.query.push(c);
            }
            Action::SearchBack => {
                self.query.pop();
            }
            Action::SearchGo => self.search(fx),
            Action::SearchEdit => self.hits = None,
            _ => {}
        }
    }

    /// Sends the typed text, unless it is blank.
    pub(super) fn search(&mut self, fx: &mut Vec<Effect>) {
        let q = self.query.trim().to_owned();
        if q.is_empty() {
            return;
        }
        self.request(
            Pending::Search,
            RequestOp::Search { q, limit: Some(20) },
            fx,
        );
    }

    /// The hits, or why there are none.
    pub(super) fn search_reply(&mut self, result: Result<Reply, ApiError>, now: Instant) {
        match result {
            Ok(Reply::SearchResults { hits }) => self.hits = Some(hits),
            Ok(_) => {}
            Err(e) => self.notify(Notice::Agent(e), now),
        }
    }
}
