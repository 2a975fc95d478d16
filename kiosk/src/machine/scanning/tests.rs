//! The staff scanning desk driven through the whole machine.

use super::super::tests::*;
use super::super::*;
use crate::machine::desk::Field;
use crate::marks::Mark;
use rong_protocol::digitise::PageInfo;
use std::time::Duration;

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

    /// A staff member at job J1, which the agent answers as `job(state, pages)`.
    fn at_job(&mut self, state: &str, pages: u32) {
        self.desk(serde_json::json!([]));
        let (tag, _) = self.act_one(Action::OpenJob("J1".into()));
        self.reply(tag, Ok(job(state, pages)));
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
    t.type_text("SU THI");
    assert_eq!(t.k.desk.form.title, "Su thi");
    for _ in 0..4 {
        t.act(Action::SearchBack);
    }
    t.act(Action::FormMark(Mark::Horn));
    t.act(Action::FormMark(Mark::Hook));
    t.type_text(" THI");
    assert_eq!(t.k.desk.form.title, "Sử thi");
    t.act(Action::FormField(Field::Date));
    t.type_text("1985");
    let (tag, op) = t.act_one(Action::StartJob);
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
    t.type_text("DIA");
    let (_, op) = t.act_one(Action::SearchGo);
    assert!(matches!(op, RequestOp::Search { ref q, .. } if q == "DIA"));
    let (tag, op) = t.act_one(Action::PickRecord("KT-1".into()));
    assert!(
        matches!(op, RequestOp::JobStart { source: rong_protocol::digitise::JobSource::Record { ref record }, .. } if record == "KT-1")
    );
    t.reply(tag, Ok(job("open", 0)));
    assert_eq!(t.k.screen, Screen::JobPages);
}

#[test]
fn a_batch_shows_pages_as_they_arrive_and_a_jam_keeps_them() {
    let mut t = T::new();
    t.at_job("open", 0);
    assert_eq!(t.k.screen, Screen::JobPages);
    let (scan, op) = t.act_one(Action::ScanBatch);
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
    t.at_job("safe", 2);
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
    t.at_job("open", 3);
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
    let (tag, op) = t.act_one(Action::PageRight);
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
    let (tag, op) = t.act_one(Action::RotateLeft);
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
    let (tag, op) = t.act_one(Action::PageDelete);
    assert!(matches!(op, RequestOp::PageDelete { page: 1, .. }));
    t.reply(tag, Ok(job("open", 2)));
    assert_eq!(t.k.desk.selected, None);
    t.act(Action::FinishJob);
    assert_eq!(t.k.screen, Screen::JobFinish);
    t.act(Action::KeepScanning);
    assert_eq!(t.k.screen, Screen::JobPages);
    t.act(Action::FinishJob);
    let (tag, op) = t.act_one(Action::ConfirmFinish);
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
