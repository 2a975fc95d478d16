use std::time::Duration;

use super::*;

fn patron(staff: bool) -> PatronView {
    PatronView {
        card: "P000001".into(),
        name: "Nguyễn Văn A".into(),
        category: "adult".into(),
        loans: 0,
        max_loans: 5,
        staff,
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        inactivity: Duration::from_secs(10),
        warning: Duration::from_secs(5),
        status_poll: Duration::from_secs(1000),
    }
}

struct T {
    k: Kiosk,
    now: Instant,
    fx: Vec<Effect>,
}

impl T {
    fn new() -> T {
        let now = Instant::now();
        let mut t = T {
            k: Kiosk::new(timeouts(), Lang::Vi, now),
            now,
            fx: vec![],
        };
        t.input(Input::Connected);
        t.answer_all_status();
        t
    }
    fn input(&mut self, i: Input) {
        let fx = self.k.handle(i, self.now);
        self.fx.extend(fx);
    }
    fn act(&mut self, a: Action) {
        self.input(Input::Action(a));
    }
    /// Takes the requests made so far, without the signals.
    fn requests(&mut self) -> Vec<(u64, RequestOp)> {
        std::mem::take(&mut self.fx)
            .into_iter()
            .filter_map(|e| match e {
                Effect::Request { tag, op } => Some((tag, op)),
                Effect::Language(_) => None,
            })
            .filter(|(_, op)| !matches!(op, RequestOp::Signal { .. }))
            .collect()
    }
    fn answer_all_status(&mut self) {
        for (tag, op) in self.requests() {
            assert_eq!(op, RequestOp::Status);
            self.input(Input::Reply {
                tag,
                result: Ok(Reply::Status(status(true))),
            });
        }
    }
    fn only(&mut self) -> (u64, RequestOp) {
        let mut r = self.requests();
        assert_eq!(r.len(), 1, "{r:?}");
        r.remove(0)
    }
    fn reply(&mut self, tag: u64, result: Result<Reply, ApiError>) {
        self.input(Input::Reply { tag, result });
    }
    fn login(&mut self, purpose: Action, staff: bool) {
        self.act(purpose);
        assert_eq!(self.k.screen, Screen::Identify);
        self.input(Input::CardPresent("04AA".into()));
        let (tag, op) = self.only();
        assert!(matches!(op, RequestOp::Identify(ref w) if w.uid.as_deref() == Some("04AA")));
        self.reply(
            tag,
            Ok(Reply::Identified {
                session: "s1".into(),
                patron: patron(staff),
            }),
        );
    }
}

fn status(online: bool) -> AgentStatus {
    serde_json::from_value(serde_json::json!({
        "device": "kontum-kiosk-1", "branch": "kontum", "online": online, "outbox_depth": 0,
        "oldest_unsynced_age_s": null, "last_seq": 0, "acked_through": 0,
        "catalogue_version": 1, "rejected_messages": 0
    }))
    .expect("status")
}

fn err(code: ErrorCode) -> ApiError {
    ApiError::new(code, "")
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

#[test]
fn borrow_three_then_receipt_and_summary() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    assert_eq!(t.k.screen, Screen::Borrow);
    for (i, code) in ["KT1", "KT2", "KT3"].iter().enumerate() {
        t.input(Input::Barcode((*code).into()));
        let (tag, op) = t.only();
        assert!(
            matches!(op, RequestOp::Checkout { ref who, .. } if who.session.as_deref() == Some("s1"))
        );
        assert!(t.k.busy());
        t.act(Action::Finish);
        assert_eq!(t.k.screen, Screen::Borrow, "finish waits for answers");
        t.reply(
            tag,
            Ok(Reply::CheckedOut {
                item: (*code).into(),
                title: format!("Book {i}"),
                due: date(10),
            }),
        );
    }
    t.input(Input::Barcode("KT2".into()));
    assert!(t.requests().is_empty(), "a repeated scan sends nothing");
    assert_eq!(
        t.k.notice.as_ref().map(|n| &n.0),
        Some(&Notice::AlreadyScanned)
    );
    t.act(Action::Finish);
    assert_eq!(t.k.screen, Screen::Receipt);
    t.act(Action::Print);
    let (tag, op) = t.only();
    assert_eq!(
        op,
        RequestOp::PrintReceipt {
            session: "s1".into(),
            items: vec!["KT1".into(), "KT2".into(), "KT3".into()]
        }
    );
    t.reply(tag, Err(err(ErrorCode::PrinterUnavailable)));
    assert_eq!(t.k.screen, Screen::Summary);
    assert!(matches!(t.k.print, Some(PrintOutcome::Failed(_))));
    assert_eq!(t.k.rows.len(), 3);
    t.act(Action::Home);
    assert_eq!(
        t.only().1,
        RequestOp::EndSession {
            session: "s1".into()
        }
    );
    assert_eq!(t.k.screen, Screen::Start);
    assert!(t.k.rows.is_empty() && t.k.session.is_none());
}

#[test]
fn pin_then_wrong_pin_then_refusal() {
    let mut t = T::new();
    t.act(Action::Borrow);
    t.input(Input::Barcode("P000005".into()));
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::PinRequired)));
    assert_eq!(t.k.screen, Screen::Pin);
    for d in [1, 2, 3, 4] {
        t.act(Action::PinDigit(d));
    }
    t.act(Action::PinBack);
    t.act(Action::PinDigit(9));
    t.act(Action::PinOk);
    let (tag, op) = t.only();
    assert_eq!(
        op,
        RequestOp::Identify(Who {
            card: Some("P000005".into()),
            pin: Some("1239".into()),
            ..Who::default()
        })
    );
    t.reply(tag, Err(err(ErrorCode::WrongPin)));
    assert_eq!(t.k.screen, Screen::Pin);
    assert!(t.k.pin.is_empty() && t.k.pin_error.is_some());
    t.act(Action::PinDigit(0));
    t.act(Action::PinOk);
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::PinLocked)));
    assert_eq!(t.k.screen, Screen::Refused);
    assert_eq!(
        t.k.refusal.as_ref().map(|e| e.code),
        Some(ErrorCode::PinLocked)
    );
}

#[test]
fn blocked_card_is_refused_and_timeout_clears_it() {
    let mut t = T::new();
    t.act(Action::Account);
    t.input(Input::CardPresent("04BB".into()));
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::PatronBlocked)));
    assert_eq!(t.k.screen, Screen::Refused);
    t.now += Duration::from_secs(11);
    t.input(Input::Tick);
    assert_eq!(t.k.warning, Some(4));
    t.now += Duration::from_secs(4);
    t.input(Input::Tick);
    assert_eq!(t.k.screen, Screen::Start);
    assert!(t.k.refusal.is_none() && t.k.warning.is_none());
}

#[test]
fn still_here_cancels_the_warning() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.act(Action::LargerText);
    t.act(Action::Language(Lang::En));
    t.now += Duration::from_secs(12);
    t.input(Input::Tick);
    assert_eq!(t.k.warning, Some(3));
    t.act(Action::StillHere);
    assert_eq!(t.k.warning, None);
    t.now += Duration::from_secs(9);
    t.input(Input::Tick);
    assert_eq!((t.k.screen, t.k.warning), (Screen::Borrow, None));
    t.now += Duration::from_secs(10);
    t.input(Input::Tick);
    assert_eq!(t.k.screen, Screen::Start);
    assert!(!t.k.large_text);
    assert_eq!(t.k.lang, Lang::Vi);
    assert!(t.fx.contains(&Effect::Language(Lang::Vi)));
    assert!(t.requests().iter().any(|(_, op)| *op
        == RequestOp::EndSession {
            session: "s1".into()
        }));
}

#[test]
fn late_replies_do_not_reach_the_next_reader() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.input(Input::Barcode("KT9".into()));
    let (tag, _) = t.only();
    t.act(Action::Home);
    t.requests();
    t.reply(
        tag,
        Ok(Reply::CheckedOut {
            item: "KT9".into(),
            title: "Late".into(),
            due: date(1),
        }),
    );
    assert!(t.k.rows.is_empty());
}

#[test]
fn lost_connection_leaves_items_unconfirmed_and_a_session_the_agent_forgot_ends() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.input(Input::Barcode("KT1".into()));
    let (tag, _) = t.only();
    t.input(Input::Disconnected);
    assert!(t.k.out_of_service());
    t.input(Input::Lost { tag });
    assert_eq!(t.k.rows[0].state, RowState::Unconfirmed);
    t.input(Input::Connected);
    assert!(!t.k.out_of_service());
    t.answer_all_status();
    t.input(Input::Barcode("KT1".into()));
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::NoSession)));
    assert_eq!(t.k.screen, Screen::Refused);
    assert!(t.k.session.is_none() && t.k.rows.is_empty());
}

#[test]
fn cards_mid_session_and_garbage_scans_are_explained() {
    let mut t = T::new();
    t.act(Action::Borrow);
    t.input(Input::CardPresent("04AA".into()));
    let (tag, _) = t.only();
    t.input(Input::CardPresent("04BB".into()));
    assert!(t.requests().is_empty(), "one card at a time");
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::OtherCard));
    t.reply(
        tag,
        Ok(Reply::Identified {
            session: "s1".into(),
            patron: patron(false),
        }),
    );
    t.input(Input::CardPresent("04CC".into()));
    assert_eq!(t.k.screen, Screen::Borrow);
    assert!(t.requests().is_empty());
    t.input(Input::Barcode("KT\u{7}1".into()));
    t.input(Input::BadScan(ScanProblem::TooLong));
    assert!(t.requests().is_empty());
    assert!(t.k.rows.is_empty());
    assert_eq!(
        t.k.notice.as_ref().map(|n| &n.0),
        Some(&Notice::BadScan(ScanProblem::TooLong))
    );
}

#[test]
fn return_other_branch_account_renew_search_and_staff() {
    let mut t = T::new();
    t.act(Action::Return);
    t.input(Input::Barcode("KT7".into()));
    let (tag, op) = t.only();
    assert_eq!(op, RequestOp::Checkin { item: "KT7".into() });
    t.reply(
        tag,
        Ok(Reply::CheckedIn {
            item: "KT7".into(),
            title: Some("Far".into()),
            was_on_loan: true,
            transfer_to: Some("dakto".parse().expect("branch")),
            transfer_to_name: Some("Đắk Tô".into()),
        }),
    );
    assert_eq!(t.k.rows[0].state, RowState::Transfer("Đắk Tô".into()));
    t.act(Action::Home);

    t.login(Action::Account, false);
    let (tag, op) = t.only();
    assert!(matches!(op, RequestOp::Loans(_)));
    let loan = |item: &str, overdue| LoanView {
        item: item.into(),
        title: item.into(),
        due: date(1),
        overdue,
        renewals: 0,
    };
    t.reply(
        tag,
        Ok(Reply::Loans {
            loans: vec![loan("KT1", true), loan("KT2", false)],
        }),
    );
    assert!(t.k.rows[0].overdue);
    t.act(Action::RenewAll);
    let reqs = t.requests();
    assert_eq!(reqs.len(), 2);
    t.reply(reqs[0].0, Err(err(ErrorCode::Overdue)));
    t.reply(
        reqs[1].0,
        Ok(Reply::Renewed {
            item: "KT2".into(),
            title: "KT2".into(),
            due: date(20),
            renewals: 1,
        }),
    );
    assert!(matches!(t.k.rows[0].state, RowState::Refused(_)));
    assert_eq!(t.k.rows[1].state, RowState::Renewed(date(20)));
    t.act(Action::Home);
    t.requests();

    t.act(Action::Search);
    for c in "dia chi".chars() {
        t.act(Action::SearchKey(c));
    }
    t.act(Action::SearchGo);
    let (tag, op) = t.only();
    assert_eq!(
        op,
        RequestOp::Search {
            q: "dia chi".into(),
            limit: Some(20)
        }
    );
    t.reply(tag, Ok(Reply::SearchResults { hits: vec![] }));
    assert_eq!(t.k.hits, Some(vec![]));
    t.act(Action::Home);

    t.login(Action::Borrow, true);
    assert_eq!(t.k.screen, Screen::Staff);
    let (tag, op) = t.only();
    assert_eq!(op, RequestOp::Status);
    t.reply(tag, Ok(Reply::Status(status(false))));
    assert!(!t.k.online);
    assert!(t.k.status.is_some());
    t.act(Action::Scanning);
    assert_eq!(t.k.screen, Screen::Scanning);
    let (_, op) = t.only();
    assert!(matches!(op, RequestOp::JobList { .. }));
    t.act(Action::StaffMenu);
    let (_, op) = t.only();
    assert_eq!(
        op,
        RequestOp::Status,
        "the staff menu asks for fresh status"
    );
    t.act(Action::SyncNow);
    let (tag, op) = t.only();
    assert_eq!(op, RequestOp::SyncNow);
    t.reply(tag, Ok(Reply::Done));
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::Synced));
}

/// A job as the agent's `job_get` answers it (a recorded reply), with `pages` pages.
fn job(state: &str, pages: u32) -> Reply {
    let mut summary = serde_json::json!({
        "job": "J1", "title": "Sử thi Ba Na", "state": state, "pages": pages,
        "bytes_total": 0, "bytes_sent": 0, "created_at": 1
    });
    if state == "safe" {
        summary["document"] = "D1".into();
    }
    let summary = serde_json::from_value(summary).expect("summary");
    Reply::Job(Box::new(rong_protocol::digitise::JobView {
        summary,
        metadata: rong_protocol::digitise::DublinCore {
            title: "Sử thi Ba Na".into(),
            language: Some("vie".into()),
            ..Default::default()
        },
        pages: (1..=pages)
            .map(|p| page(p, serde_json::json!([])))
            .collect(),
    }))
}

fn page(p: u32, checks: serde_json::Value) -> PageInfo {
    serde_json::from_value(serde_json::json!({"page": p, "position": p, "width": 2480,
        "height": 3508, "dpi": 300, "rotation": 0, "checks": checks, "master_bytes": 1000,
        "access_bytes": 100}))
    .expect("page")
}

impl T {
    /// A staff member on the scanning station's job list, answered with `jobs`.
    fn desk(&mut self, jobs: serde_json::Value) {
        self.login(Action::Borrow, true);
        assert_eq!(self.k.screen, Screen::Staff);
        let _ = self.requests();
        self.act(Action::Scanning);
        assert_eq!(self.k.screen, Screen::Scanning);
        let (tag, op) = self.only();
        assert_eq!(
            op,
            RequestOp::JobList {
                session: "s1".into()
            }
        );
        let reply = serde_json::from_value(serde_json::json!({"type": "jobs", "jobs": jobs}))
            .expect("jobs reply");
        self.reply(tag, Ok(reply));
    }

    /// Answers every thumbnail request with a tiny picture; returns how many there were.
    fn answer_thumbs(&mut self) -> usize {
        let mut n = 0;
        for (tag, op) in self.requests() {
            assert!(matches!(op, RequestOp::PageImage { .. }), "{op:?}");
            n += 1;
            self.reply(
                tag,
                Ok(Reply::PageImage {
                    jpeg_base64: "/9j/".into(),
                    width: 1,
                    height: 1,
                }),
            );
        }
        n
    }
}

#[test]
fn staff_describe_a_document_with_vietnamese_marks_then_start_it() {
    let mut t = T::new();
    t.desk(serde_json::json!([]));
    assert_eq!(t.k.desk.jobs.as_deref(), Some(&[][..]));
    t.act(Action::NewJob);
    assert_eq!(t.k.screen, Screen::JobNew);
    t.act(Action::Describe);
    assert_eq!(t.k.screen, Screen::JobDescribe);
    // No title: nothing is sent and the form says so.
    t.act(Action::StartJob);
    assert!(t.requests().is_empty());
    assert!(t.k.desk.title_missing);
    for c in "SU THI".chars() {
        t.act(Action::SearchKey(c));
    }
    assert_eq!(t.k.desk.form.title, "Su thi");
    for _ in 0..4 {
        t.act(Action::SearchBack);
    }
    t.act(Action::FormMark(Mark::Horn));
    t.act(Action::FormMark(Mark::Hook));
    for c in " THI".chars() {
        t.act(Action::SearchKey(c));
    }
    assert_eq!(t.k.desk.form.title, "Sử thi");
    t.act(Action::FormField(Field::Date));
    for c in "1985".chars() {
        t.act(Action::SearchKey(c));
    }
    t.act(Action::StartJob);
    let (tag, op) = t.only();
    match op {
        RequestOp::JobStart {
            session,
            source: rong_protocol::digitise::JobSource::Described(dc),
        } => {
            assert_eq!(session, "s1");
            assert_eq!(dc.title, "Sử thi");
            assert_eq!(dc.date.as_deref(), Some("1985"));
            assert_eq!(dc.language.as_deref(), Some("vie"));
            assert_eq!(dc.creator, None);
        }
        other => panic!("{other:?}"),
    }
    t.reply(tag, Ok(job("open", 0)));
    assert_eq!(t.k.screen, Screen::JobPages);
}

#[test]
fn staff_pick_a_catalogue_record_for_a_job() {
    let mut t = T::new();
    t.desk(serde_json::json!([]));
    t.act(Action::NewJob);
    for c in "DIA".chars() {
        t.act(Action::SearchKey(c));
    }
    t.act(Action::SearchGo);
    let (_, op) = t.only();
    assert!(matches!(op, RequestOp::Search { ref q, .. } if q == "DIA"));
    t.act(Action::PickRecord("KT-1".into()));
    let (tag, op) = t.only();
    assert!(
        matches!(op, RequestOp::JobStart { source: rong_protocol::digitise::JobSource::Record { ref record }, .. } if record == "KT-1")
    );
    t.reply(tag, Ok(job("open", 0)));
    assert_eq!(t.k.screen, Screen::JobPages);
}

#[test]
fn a_batch_shows_pages_as_they_arrive_and_a_jam_keeps_them() {
    let mut t = T::new();
    t.desk(serde_json::json!([]));
    t.act(Action::OpenJob("J1".into()));
    let (tag, _) = t.only();
    t.reply(tag, Ok(job("open", 0)));
    assert_eq!(t.k.screen, Screen::JobPages);
    t.act(Action::ScanBatch);
    let (scan, op) = t.only();
    assert!(matches!(op, RequestOp::JobScan { batch: true, .. }));
    assert!(!t.k.desk.can_edit(), "no edits while the feeder runs");
    for p in 1..=2 {
        t.input(Input::PageScanned {
            job: "J1".into(),
            page: page(p, serde_json::json!([{"check": "skewed", "degrees": 2.5}])),
        });
        assert_eq!(t.answer_thumbs(), 1, "a thumbnail per arriving page");
    }
    // A page of another job is not ours.
    t.input(Input::PageScanned {
        job: "J2".into(),
        page: page(9, serde_json::json!([])),
    });
    assert!(t.requests().is_empty());
    assert_eq!(t.k.desk.job.as_ref().map(|j| j.pages.len()), Some(2));
    assert_eq!(t.k.desk.thumbs.len(), 2);
    t.reply(scan, Err(err(ErrorCode::ScannerError)));
    assert_eq!(
        t.k.desk.problem.as_ref().map(|e| e.code),
        Some(ErrorCode::ScannerError)
    );
    assert!(
        t.k.notice.is_none(),
        "the problem is shown on the page, not a banner"
    );
    let (tag, op) = t.only();
    assert!(matches!(op, RequestOp::JobGet { .. }));
    t.reply(tag, Ok(job("open", 2)));
    assert_eq!(t.answer_thumbs(), 0, "thumbnails are kept");
    assert_eq!(t.k.screen, Screen::JobPages);
    // The next scan clears the problem.
    t.act(Action::ScanOne);
    assert!(t.k.desk.problem.is_none());
    let (_, op) = t.only();
    assert!(matches!(op, RequestOp::JobScan { batch: false, .. }));
}

#[test]
fn thumbnails_the_station_removed_are_not_asked_for_again() {
    let mut t = T::new();
    t.desk(serde_json::json!([]));
    t.act(Action::OpenJob("J1".into()));
    let (tag, _) = t.only();
    t.reply(tag, Ok(job("safe", 2)));
    let asked = t.requests();
    assert_eq!(asked.len(), 2);
    // Page 1's files are gone (the job is safe at central); page 2's answer was lost.
    for (tag, op) in asked {
        let RequestOp::PageImage { page, .. } = op else {
            panic!("{op:?}")
        };
        let code = if page == 1 {
            ErrorCode::UnknownJob
        } else {
            ErrorCode::Internal
        };
        t.reply(tag, Err(err(code)));
    }
    // The next change to the view asks again for page 2 only.
    t.input(Input::PageScanned {
        job: "J1".into(),
        page: page(3, serde_json::json!([])),
    });
    let pages: Vec<u32> = t
        .requests()
        .into_iter()
        .map(|(_, op)| match op {
            RequestOp::PageImage { page, .. } => page,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(pages, vec![2, 3]);
}

#[test]
fn page_edits_act_on_the_selected_page_then_finish_uploads() {
    let mut t = T::new();
    t.desk(serde_json::json!([]));
    t.act(Action::OpenJob("J1".into()));
    let (tag, _) = t.only();
    t.reply(tag, Ok(job("open", 3)));
    assert_eq!(t.answer_thumbs(), 3);
    // Nothing selected: the buttons do nothing.
    t.act(Action::RotateRight);
    assert!(t.requests().is_empty());
    t.act(Action::SelectPage(1));
    t.act(Action::PageLeft);
    assert!(
        t.requests().is_empty(),
        "the first page cannot go further left"
    );
    t.act(Action::PageRight);
    let (tag, op) = t.only();
    assert_eq!(
        op,
        RequestOp::PageMove {
            session: "s1".into(),
            job: "J1".into(),
            page: 1,
            to: 2
        }
    );
    t.reply(tag, Ok(job("open", 3)));
    t.act(Action::RotateLeft);
    let (tag, op) = t.only();
    assert!(matches!(
        op,
        RequestOp::PageRotate {
            page: 1,
            quarter_turns: -1,
            ..
        }
    ));
    t.reply(tag, Ok(job("open", 3)));
    assert_eq!(t.answer_thumbs(), 1, "the turned page's thumbnail again");
    t.act(Action::PageDelete);
    let (tag, op) = t.only();
    assert!(matches!(op, RequestOp::PageDelete { page: 1, .. }));
    t.reply(tag, Ok(job("open", 2)));
    assert_eq!(t.k.desk.selected, None);
    t.act(Action::FinishJob);
    assert_eq!(t.k.screen, Screen::JobFinish);
    t.act(Action::KeepScanning);
    assert_eq!(t.k.screen, Screen::JobPages);
    t.act(Action::FinishJob);
    t.act(Action::ConfirmFinish);
    let (tag, op) = t.only();
    assert!(matches!(op, RequestOp::JobFinish { .. }));
    t.reply(tag, Ok(job("queued", 2)));
    assert_eq!(t.k.screen, Screen::Scanning);
    let (_, op) = t.only();
    assert!(matches!(op, RequestOp::JobList { .. }));
    assert!(t.k.desk.job.is_none());
}

#[test]
fn the_job_list_refreshes_itself_and_logout_forgets_the_desk() {
    let mut t = T::new();
    t.desk(
        serde_json::json!([{"job": "J1", "title": "A", "state": "refused",
        "reason": "checksum mismatch", "pages": 2, "bytes_total": 10, "bytes_sent": 10,
        "created_at": 1}]),
    );
    assert_eq!(t.k.desk.jobs.as_ref().map(Vec::len), Some(1));
    t.k.timeouts.status_poll = Duration::from_secs(3);
    t.now += Duration::from_secs(2);
    t.input(Input::Tick);
    assert!(t.requests().is_empty(), "not before the poll interval");
    t.now += Duration::from_secs(2);
    t.input(Input::Tick);
    let reqs = t.requests();
    assert!(
        reqs.iter()
            .any(|(_, op)| matches!(op, RequestOp::JobList { .. })),
        "{reqs:?}"
    );
    t.act(Action::Home);
    assert!(t.k.desk.jobs.is_none());
    assert_eq!(t.k.screen, Screen::Start);
}
