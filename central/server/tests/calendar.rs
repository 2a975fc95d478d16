//! A branch's calendar over HTTP against a running central: the public holidays of 2027
//! added in one step (Tết from the lunar calendar), the due-date preview moving past them,
//! a one-off closure with bad input refused first, a day reopened; every change reaches the
//! devices' change log and the audit log; other branches' staff and read-only users change
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::{LoanRule, Op};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_calendar_with_tet_from_the_lunar_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    {
        let mut s = central_store::Store::open(&db).unwrap();
        let kontum = rong_protocol::delta::Branch {
            closed_weekdays: vec![],
            ..rong_tests::fixtures::branch("kontum")
        };
        s.put_ops(&[
            Op::PutBranch(kontum),
            Op::PutBranch(rong_tests::fixtures::branch("dakto")),
            Op::PutRule(LoanRule {
                category: "*".into(),
                item_type: "*".into(),
                loan_days: 14,
                max_renewals: 2,
            }),
        ])
        .unwrap();
    }
    let (ana, csrf) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, bo_csrf) = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let (cu, cu_csrf) = common::staff_session(&db, "cu", Role::Readonly, Some("kontum"));
    let c = common::Dashboard::new(run);
    let page = |s: String| {
        let c = &c;
        async move {
            let r = c
                .get("/admin/calendar?branch=kontum&year=2027&lang=en", &s)
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    // Tết 2027 is 6 February; a 14-day loan of 27 January is due on 10 February.
    let before = page(ana.clone()).await;
    assert!(before.contains("Tết 2027: 06/02/2027"), "{before}");
    assert!(before.contains("data-made=\"2027-01-27\" data-due=\"2027-02-10\""));

    let changes = common::count(&db, "SELECT count(*) FROM changes");
    let r = c
        .post(
            "/admin/calendar/holidays",
            &ana,
            &[("csrf", &csrf), ("branch", "kontum"), ("year", "2027")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM closed_days WHERE branch = 'kontum' AND date LIKE '2027-%'"
        ),
        11,
        "1/1, six days of Tết, Giỗ Tổ, 30/4, 1/5, 2/9"
    );
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM changes"),
        changes + 11,
        "deltas"
    );
    let after = page(ana.clone()).await;
    assert!(
        after.contains("data-made=\"2027-01-27\" data-due=\"2027-02-11\""),
        "moved past the fourth day of Tết"
    );
    assert!(
        after.contains("data-date=\"2027-04-16\""),
        "Giỗ Tổ from the lunar calendar"
    );

    // A closure: bad input listed, nothing saved; then saved.
    let r = c
        .post(
            "/admin/calendar/closures?lang=en",
            &ana,
            &[
                ("csrf", &csrf),
                ("branch", "kontum"),
                ("year", "2027"),
                ("from", "2027-03-05"),
                ("to", "2027-03-01"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("data-field=\"reason\"") && body.contains("data-field=\"to\""),
        "{body}"
    );
    let closure = [
        ("csrf", csrf.as_str()),
        ("branch", "kontum"),
        ("year", "2027"),
        ("from", "2027-03-01"),
        ("to", "2027-03-03"),
        ("reason", "Kiểm kê kho sách"),
    ];
    assert_eq!(
        c.post("/admin/calendar/closures", &ana, &closure)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM closed_days WHERE reason = 'Kiểm kê kho sách'"
        ),
        3
    );
    // Reopened one day: the devices hear of it too.
    let changes = common::count(&db, "SELECT count(*) FROM changes");
    let r = c
        .post(
            "/admin/calendar/remove",
            &ana,
            &[
                ("csrf", &csrf),
                ("branch", "kontum"),
                ("date", "2027-03-02"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM changes"),
        changes + 1
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM closed_days WHERE reason = 'Kiểm kê kho sách'"
        ),
        2
    );

    // Another branch's staff, and read-only users, change nothing here.
    assert_eq!(
        c.get("/admin/calendar?branch=kontum", &bo).await.status(),
        StatusCode::FORBIDDEN
    );
    let bo_try = [
        ("csrf", bo_csrf.as_str()),
        ("branch", "kontum"),
        ("year", "2028"),
    ];
    assert_eq!(
        c.post("/admin/calendar/holidays", &bo, &bo_try)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let all = [
        ("csrf", bo_csrf.as_str()),
        ("branch", "dakto"),
        ("year", "2028"),
        ("all_branches", "on"),
    ];
    assert_eq!(
        c.post("/admin/calendar/holidays", &bo, &all).await.status(),
        StatusCode::FORBIDDEN,
        "only administrators close every branch"
    );
    let own = [
        ("csrf", bo_csrf.as_str()),
        ("branch", "dakto"),
        ("year", "2028"),
    ];
    assert_eq!(
        c.post("/admin/calendar/holidays", &bo, &own).await.status(),
        StatusCode::SEE_OTHER,
        "a branch's staff keep its calendar"
    );
    let ro = page(cu.clone()).await;
    assert!(
        !ro.contains("id=\"closure-form\""),
        "no forms for read-only users"
    );
    let cu_try = [
        ("csrf", cu_csrf.as_str()),
        ("branch", "kontum"),
        ("year", "2028"),
    ];
    assert_eq!(
        c.post("/admin/calendar/holidays", &cu, &cu_try)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM closed_days WHERE date LIKE '2028-%'"
        ),
        11,
        "only Đăk Tô's 2028"
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'calendar.%'"
        ),
        4
    );
    c.run.stop().await;
}
