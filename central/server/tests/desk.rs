//! The circulation desk over HTTP against a running central, as a counter with a keyboard
//! wedge scanner uses it (each scan a form post): lend, the loan limit overridden with a
//! reason (kept and audited), renew to the limit, a receipt, a return at the wrong branch
//! (in transit, with a slip) received at home; history only with consent and only at the
//! reader's branch; who may not use the desk is refused, and bad input is a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::{Op, Patron};
use rong_tests::fixtures::{adults, branch, item, item_at, patron, rule};

/// Central with Kon Tum and Đăk Tô, adults lending 2 for 14 days with 1 renewal, reader
/// P1 (keeps history) and P2, Kon Tum's KT1–KT3 and Đăk Tô's DT1.
async fn library(dir: &std::path::Path) -> common::Running {
    let config = common::config(&dir.join("data"));
    std::fs::create_dir_all(&config.data_dir).unwrap();
    {
        let mut s = central_store::Store::open(&config.db_path()).unwrap();
        s.put_ops(&[
            Op::PutBranch(branch("kontum")),
            Op::PutBranch(branch("dakto")),
            Op::PutCategory(adults(2)),
            Op::PutRule(rule("*", "*", 14, 1)),
            Op::PutPatron(patron("P1")),
            Op::PutPatron(Patron {
                nfc_uids: vec![],
                name: "Trần Văn Minh".into(),
                ..patron("P2")
            }),
            Op::PutItem(item("KT1")),
            Op::PutItem(item("KT2")),
            Op::PutItem(item("KT3")),
            Op::PutItem(item_at("DT1", "dakto")),
        ])
        .unwrap();
        s.reader()
            .execute("UPDATE patrons SET keep_history = 1 WHERE card = 'P1'", [])
            .unwrap();
    }
    common::start(config).await
}

/// Posts a desk form; answers (status, body).
async fn scan(
    c: &common::Dashboard,
    session: &(String, String),
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut all = vec![("csrf", session.1.as_str())];
    all.extend_from_slice(fields);
    let r = c.post(path, &session.0, &all).await;
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_lends_overrides_renews_and_sends_items_home() {
    let dir = tempfile::tempdir().unwrap();
    let run = library(dir.path()).await;
    let db = run.db.clone();
    let lan = common::staff_session(&db, "lan", Role::Circulation, Some("kontum"));
    let bo = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let c = common::Dashboard::new(run);

    // The desk opens on the card field.
    let page = c.get("/admin/desk?lang=en", &lan.0).await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains("id=\"desk-card\""), "{body}");
    assert!(body.contains("nav-desk"), "the desk is in the menu");
    // A card scanned: the reader, no loans, the item field focused.
    let body = c
        .get("/admin/desk?card=P1", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("id=\"desk-reader-name\">Nguyễn Thị Hoa"),
        "{body}"
    );
    assert!(body.contains("id=\"desk-item\" maxlength=\"64\" autocomplete=\"off\" autofocus"));
    // A name finds readers too.
    let body = c
        .get("/admin/desk?card=Minh", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("id=\"desk-matches\""), "{body}");
    assert!(body.contains("card=P2"));

    // Lend two: each scan is one post.
    for b in ["KT1", "KT2"] {
        let (status, body) = scan(
            &c,
            &lan,
            "/admin/desk/lend",
            &[("at", ""), ("card", "P1"), ("item", b)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("id=\"desk-done\""), "{body}");
        assert!(body.contains("id=\"desk-due\""));
    }
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM loans WHERE staff = 'lan' AND returned_at IS NULL"
        ),
        2
    );
    // The third is over the limit: refused, with the override form; nothing written.
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", "KT3")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("data-code=\"LoanLimit\""), "{body}");
    assert!(body.contains("Bạn đọc đã mượn đủ số sách được phép"));
    assert!(body.contains("id=\"desk-override\""));
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM loans WHERE item = 'KT3'"),
        0
    );
    // Overridden with a reason: lent, the reason kept and audited.
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", "KT3"), ("reason", "Ôn thi học kỳ")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("id=\"desk-overridden\""));
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM loans WHERE item = 'KT3' AND override_reason = 'Ôn thi học kỳ'"
        ),
        1
    );
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM audit_log WHERE action = 'loan.override_lend' AND actor = 'lan' AND detail LIKE '%Ôn thi học kỳ%'"),
        1
    );
    // Never overridden: an item the reader has.
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", "KT1"), ("reason", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("data-code=\"AlreadyOnLoan\""));
    assert!(!body.contains("id=\"desk-override\""));

    // Renew once; the second is past the rule.
    let (status, _) = scan(
        &c,
        &lan,
        "/admin/desk/renew",
        &[("card", "P1"), ("item", "KT1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/renew",
        &[("card", "P1"), ("item", "KT1")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("data-code=\"RenewLimit\""));

    // The receipt: today's loans, the card masked, the given name only.
    let r = c.get("/admin/desk/receipt?card=P1", &lan.0).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    let receipt = body.split("id=\"receipt\"").nth(1).unwrap();
    assert_eq!(receipt.matches("<li>").count(), 3, "{receipt}");
    assert!(!receipt.contains("P0001") && !receipt.contains(">P1<"));
    assert!(receipt.contains("N. T. Hoa"));

    // Đăk Tô's item lent and taken back at Kon Tum: in transit home, with a slip.
    let (status, _) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P2"), ("item", "DT1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = scan(&c, &lan, "/admin/desk/return", &[("item", "DT1")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"desk-transit\""), "{body}");
    assert!(
        body.contains("id=\"desk-return\" maxlength=\"64\" autocomplete=\"off\" autofocus"),
        "the next return scan"
    );
    let slip = c
        .get("/admin/desk/slip/DT1", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(slip.contains("id=\"slip-to\">dakto"), "{slip}");
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM transfers WHERE item = 'DT1' AND received_at IS NULL"
        ),
        1
    );
    // Scanned at home: received.
    let (status, body) = scan(
        &c,
        &bo,
        "/admin/desk/return",
        &[("at", "dakto"), ("item", "DT1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"desk-received\""), "{body}");
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM transfers WHERE received_at IS NULL"
        ),
        0
    );

    // History: P1 consented; shown at P1's branch, not at Đăk Tô's desk.
    let (status, _) = scan(&c, &lan, "/admin/desk/return", &[("item", "KT2")]).await;
    assert_eq!(status, StatusCode::OK);
    let here = c
        .get("/admin/desk?card=P1", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(here.contains("id=\"desk-history\""), "{here}");
    let there = c
        .get("/admin/desk?card=P1", &bo.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(there.contains("id=\"desk-no-history\""), "{there}");
    assert!(
        there.contains("id=\"desk-loans\""),
        "loans show at any desk"
    );
    // P2 did not consent.
    let p2 = c
        .get("/admin/desk?card=P2", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(p2.contains("id=\"desk-no-history\""));
    c.run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_refuses_who_may_not_lend_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = library(dir.path()).await;
    let db = run.db.clone();
    let lan = common::staff_session(&db, "lan", Role::Circulation, Some("kontum"));
    let ana = common::staff_session(&db, "ana", Role::Admin, None);
    let cu = common::staff_session(&db, "cu", Role::Readonly, Some("kontum"));
    let kim = common::staff_session(&db, "kim", Role::Cataloguer, Some("kontum"));
    let bo = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let c = common::Dashboard::new(run);

    // Without a session: to the login page, for every desk route.
    for path in [
        "/admin/desk",
        "/admin/desk/receipt?card=P1",
        "/admin/desk/slip/DT1",
    ] {
        let r = c.get(path, "nobody").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
    for path in [
        "/admin/desk/lend",
        "/admin/desk/return",
        "/admin/desk/renew",
    ] {
        let r = c
            .post(
                path,
                "nobody",
                &[("csrf", "x"), ("card", "P1"), ("item", "KT1")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
    // Read-only users and cataloguers have no desk.
    for who in [&cu, &kim] {
        assert_eq!(
            c.get("/admin/desk", &who.0).await.status(),
            StatusCode::FORBIDDEN
        );
        let (status, _) = scan(
            &c,
            who,
            "/admin/desk/lend",
            &[("card", "P1"), ("item", "KT1")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let menu = c.get("/admin/readers", &who.0).await.text().await.unwrap();
        assert!(!menu.contains("nav-desk"));
    }
    // Another branch's desk.
    assert_eq!(
        c.get("/admin/desk?at=kontum", &bo.0).await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, _) = scan(
        &c,
        &bo,
        "/admin/desk/lend",
        &[("at", "kontum"), ("card", "P1"), ("item", "KT1")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without the CSRF token.
    let r = c
        .post(
            "/admin/desk/lend",
            &lan.0,
            &[("card", "P1"), ("item", "KT1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(common::count(&db, "SELECT count(*) FROM loans"), 0);

    // Bad input: a scan too long, a reason too long; an unknown card or item is a refusal.
    let long = "9".repeat(65);
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", &long)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let reason = "x".repeat(201);
    let (status, _) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", "KT1"), ("reason", &reason)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "NOBODY"), ("item", "KT1")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("data-code=\"UnknownPatron\""));
    let (status, body) = scan(&c, &lan, "/admin/desk/return", &[("item", "NOPE")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("Không có sách mang mã vạch này trong mục lục"));
    // Enter alone changes nothing.
    let (status, _) = scan(
        &c,
        &lan,
        "/admin/desk/lend",
        &[("card", "P1"), ("item", " ")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(common::count(&db, "SELECT count(*) FROM loans"), 0);
    let body = c
        .get("/admin/desk?card=NOBODY", &lan.0)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("id=\"desk-no-reader\""));

    // An administrator chooses the branch first, then works there.
    let body = c.get("/admin/desk", &ana.0).await.text().await.unwrap();
    assert!(body.contains("id=\"desk-pick\""), "{body}");
    let (status, _) = scan(
        &c,
        &ana,
        "/admin/desk/lend",
        &[("at", "dakto"), ("card", "P1"), ("item", "DT1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM loans WHERE branch = 'dakto' AND staff = 'ana'"
        ),
        1
    );
    c.run.stop().await;
}
