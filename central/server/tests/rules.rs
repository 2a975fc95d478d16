//! Reader categories and the loan-rule matrix over HTTP against a running central: a
//! category added and changed, bad input listed; a matrix with a hole or a bad number
//! refused whole, a good one saved with its deltas (a removed cell as a removal); branch
//! staff see the rules but change none.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::Op;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_and_the_loan_rule_matrix_are_kept_in_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    {
        let mut s = central_store::Store::open(&db).unwrap();
        s.put_ops(&[
            Op::PutBranch(rong_tests::fixtures::branch("kontum")),
            Op::PutItem(rong_protocol::delta::Item {
                item_type: "RARE".into(),
                ..rong_tests::fixtures::item("KT00000001")
            }),
        ])
        .unwrap();
    }
    let (ana, csrf) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, bo_csrf) = common::staff_session(&db, "bo", Role::Staff, Some("kontum"));
    let c = common::Dashboard::new(run);

    let category = |id: &'static str, months: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("id", id.to_owned()),
            ("name", "Thiếu nhi".to_owned()),
            ("max_loans", "3".to_owned()),
            ("membership_months", months.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let c = &c;
        let ana = ana.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.post("/admin/rules/categories?lang=en", &ana, &pairs)
                .await
        }
    };
    let r = send(category("Thiếu nhi", "0")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("data-field=\"id\"") && body.contains("data-field=\"membership_months\"")
    );
    assert_eq!(
        send(category("child", "12")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        send(category("child", "24")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT membership_months FROM categories WHERE id = 'child'"
        ),
        24
    );

    // The matrix: a hole, then a bad number, are refused whole.
    let matrix = |cells: &[(&str, &str)]| {
        let mut f: Vec<(String, String)> = vec![("csrf".into(), csrf.clone())];
        f.extend(
            cells
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        f
    };
    let post_matrix = |f: Vec<(String, String)>, who: String| {
        let c = &c;
        async move {
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.post("/admin/rules/matrix?lang=en", &who, &pairs).await
        }
    };
    let changes = common::count(&db, "SELECT count(*) FROM changes");
    let r = post_matrix(
        matrix(&[("d|child|RARE", "0"), ("r|child|RARE", "0")]),
        ana.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("(* × *)"));
    let r = post_matrix(
        matrix(&[
            ("d|*|*", "14"),
            ("r|*|*", "2"),
            ("d|child|*", "400"),
            ("r|child|*", "1"),
        ]),
        ana.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("child × *: the loan period"), "{body}");
    assert!(body.contains("value=\"400\""), "what was typed is kept");
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM changes"),
        changes,
        "nothing saved"
    );

    let good = matrix(&[
        ("d|*|*", "14"),
        ("r|*|*", "2"),
        ("d|child|*", "7"),
        ("r|child|*", "1"),
        ("d|*|RARE", "0"),
        ("r|*|RARE", "0"),
    ]);
    assert_eq!(
        post_matrix(good, ana.clone()).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(common::count(&db, "SELECT count(*) FROM loan_rules"), 3);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM changes"),
        changes + 3
    );
    // A cell emptied is a removal the devices hear of.
    let fewer = matrix(&[
        ("d|*|*", "14"),
        ("r|*|*", "2"),
        ("d|*|RARE", "0"),
        ("r|*|RARE", "0"),
    ]);
    assert_eq!(
        post_matrix(fewer, ana.clone()).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(common::count(&db, "SELECT count(*) FROM loan_rules"), 2);
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM changes WHERE op LIKE '%del_rule%'"
        ),
        1
    );
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM audit_log WHERE action IN ('category.create', 'category.update', 'rules.update')"),
        4
    );

    // Branch staff see the rules, and change none.
    let page = c.get("/admin/rules", &bo).await.text().await.unwrap();
    assert!(page.contains("data-category=\"child\""));
    assert!(!page.contains("id=\"matrix-save\""));
    let r = post_matrix(
        vec![
            ("csrf".into(), bo_csrf.clone()),
            ("d|*|*".into(), "1".into()),
        ],
        bo.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    c.run.stop().await;
}
