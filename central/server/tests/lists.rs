//! The daily lists over HTTP against a running central: an overdue loan with the reader's
//! phone for staff (none for read-only users), a reader registered this month, a membership
//! ending soon; another branch's staff are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::{Op, Patron};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_lists_for_a_branch() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    {
        let mut s = central_store::Store::open(&db).unwrap();
        s.put_ops(&[
            Op::PutBranch(rong_tests::fixtures::branch("kontum")),
            Op::PutBranch(rong_tests::fixtures::branch("dakto")),
            Op::PutPatron(Patron {
                expires: Some(today + chrono::Duration::days(10)),
                ..rong_tests::fixtures::patron("P1")
            }),
            Op::PutItem(rong_tests::fixtures::item("KT1")),
        ])
        .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        s.reader()
            .execute(
                "UPDATE patrons SET phone = '0905 123 456', registered_at = ?1 WHERE card = 'P1'",
                [now],
            )
            .unwrap();
        s.reader()
            .execute(
                "INSERT INTO loans (item, patron, branch, loaned_at, due) VALUES ('KT1', 'P1', 'kontum', 0, ?1)",
                [(today - chrono::Duration::days(3)).to_string()],
            )
            .unwrap();
    }
    let (ana, _) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, _) = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let (cu, _) = common::staff_session(&db, "cu", Role::Readonly, Some("kontum"));
    let c = common::Dashboard::new(run);

    let page = c.get("/admin/lists?branch=kontum&lang=en", &ana).await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(body.contains("data-item=\"KT1\""), "{body}");
    assert!(body.contains("3 days late"), "{body}");
    assert!(body.contains("0905 123 456"), "staff call the reader");
    let new_readers = body.split("id=\"new-readers\"").nth(1).unwrap();
    assert!(new_readers
        .split("</table>")
        .next()
        .unwrap()
        .contains("data-card=\"P1\""));
    let expiring = body.split("id=\"expiring\"").nth(1).unwrap();
    assert!(expiring.contains("data-card=\"P1\""));

    let ro = c.get("/admin/lists", &cu).await.text().await.unwrap();
    assert!(ro.contains("data-item=\"KT1\""));
    assert!(
        !ro.contains("0905 123 456"),
        "no contacts for read-only users"
    );
    assert_eq!(
        c.get("/admin/lists?branch=kontum", &bo).await.status(),
        StatusCode::FORBIDDEN
    );
    let theirs = c.get("/admin/lists", &bo).await.text().await.unwrap();
    assert!(!theirs.contains("data-item=\"KT1\""), "Đăk Tô lent nothing");
    c.run.stop().await;
}
