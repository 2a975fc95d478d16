//! Readers in the dashboard over HTTP against a running central: register one (bad input
//! listed first, nothing saved), find them, change them, renew the membership; the devices'
//! change log gets only what lending needs; other branches' staff and read-only users
//! change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::{Category, Op};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_registered_found_changed_and_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    {
        let mut s = central_store::Store::open(&db).unwrap();
        s.put_ops(&[
            Op::PutBranch(rong_tests::fixtures::branch("kontum")),
            Op::PutBranch(rong_tests::fixtures::branch("dakto")),
            Op::PutCategory(Category {
                id: "child".into(),
                name: "Thiếu nhi".into(),
                max_loans: 3,
            }),
        ])
        .unwrap();
    }
    let (ana, csrf) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, bo_csrf) = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let (cu, cu_csrf) = common::staff_session(&db, "cu", Role::Readonly, Some("kontum"));
    let c = common::Dashboard::new(run);

    let page = c
        .get("/admin/readers/new", &ana)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("placeholder=\"P000001\""),
        "the next card number"
    );
    let reader = |csrf: &str, name: &str, email: &str, pin: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf),
            ("card", ""),
            ("name", name),
            ("birth_date", "2014-05-02"),
            ("category", "child"),
            ("branch", "kontum"),
            ("phone", "0260 386 2345"),
            ("email", email),
            ("nfc_uids", "04:a2:2b:1a"),
            ("keep_history", "on"),
            ("pin", pin),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let post = |path: &'static str, who: String, fields: Vec<(String, String)>| {
        let c = &c;
        async move {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            c.post(path, &who, &pairs).await
        }
    };
    let changes = common::count(&db, "SELECT count(*) FROM changes");
    let r = post(
        "/admin/readers?lang=en",
        ana.clone(),
        reader(&csrf, "", "not-an-address", "12"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    for field in ["name", "email", "pin"] {
        assert!(
            body.contains(&format!("data-field=\"{field}\"")),
            "{field}: {body}"
        );
    }
    assert_eq!(common::count(&db, "SELECT count(*) FROM patrons"), 0);

    let r = post(
        "/admin/readers",
        ana.clone(),
        reader(&csrf, "Y Bhăm Ênuôl", "bham@example.vn", "2468"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/readers/P000001");
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM patrons WHERE card = 'P000001' AND has_pin = 1 \
         AND birth_date = '2014-05-02' AND keep_history = 1 AND expires IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM patron_pins WHERE card = 'P000001'"
        ),
        1
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM patron_uids WHERE uid = '04A22B1A'"
        ),
        1
    );
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM changes"),
        changes + 1
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM changes WHERE op LIKE '%0260%' OR op LIKE '%example.vn%' OR op LIKE '%2014-05-02%'"
        ),
        0,
        "phone, e-mail and birth date stay at central"
    );

    // Found by name, by its branch's staff and administrators only.
    let hits = c
        .get("/admin/readers?q=bh%C4%83m", &ana)
        .await
        .text()
        .await
        .unwrap();
    assert!(hits.contains("data-card=\"P000001\""), "{hits}");
    let hits = c
        .get("/admin/readers?q=P0000", &bo)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !hits.contains("data-card=\"P000001\""),
        "another branch's reader"
    );
    assert_eq!(
        c.get("/admin/readers/P000001", &bo).await.status(),
        StatusCode::FORBIDDEN
    );

    // A change keeps the block; a renewal extends the membership by the category's length.
    central_store::Store::open(&db)
        .unwrap()
        .set_block("P000001", Some("Mất sách"))
        .unwrap();
    let expires = |db: &std::path::Path| {
        let s = central_store::Store::open(db).unwrap();
        let e: String = s
            .reader()
            .query_row(
                "SELECT expires FROM patrons WHERE card = 'P000001'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        chrono::NaiveDate::parse_from_str(&e, "%Y-%m-%d").unwrap()
    };
    let before = expires(&db);
    let r = post(
        "/admin/readers/P000001",
        ana.clone(),
        reader(&csrf, "Y Bhăm Ênuôl", "moi@example.vn", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM patrons WHERE card = 'P000001' AND blocked = 'Mất sách' AND email = 'moi@example.vn'"),
        1
    );
    let r = post(
        "/admin/readers/P000001/renew",
        ana.clone(),
        vec![("csrf".into(), csrf.clone())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        expires(&db),
        before.checked_add_months(chrono::Months::new(12)).unwrap()
    );

    // Read-only users and other branches' staff register no one here.
    let r = post(
        "/admin/readers",
        cu.clone(),
        reader(&cu_csrf, "A Thị Hoa", "", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        "/admin/readers",
        bo.clone(),
        reader(&bo_csrf, "A Thị Hoa", "", ""),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "kontum is not bo's branch"
    );
    assert_eq!(common::count(&db, "SELECT count(*) FROM patrons"), 1);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM audit_log WHERE action IN ('reader.create', 'reader.update', 'reader.renew')"),
        3
    );
    c.run.stop().await;
}
