//! Readers from a CSV file in the dashboard, over HTTP against a running central: a file
//! with a bad line is shown back with the line and why, and nothing is imported; a good
//! file is previewed, then imported whole (PINs hashed); a branch's staff import only their
//! own branch's readers; read-only users none.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::{Category, Op};

/// A multipart form body of `fields`, and its content type.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "rongboundary7b3c";
    let mut body = String::new();
    for (name, value) in fields {
        let disposition = if *name == "file" {
            format!(
                "form-data; name=\"{name}\"; filename=\"readers.csv\"\r\nContent-Type: text/csv"
            )
        } else {
            format!("form-data; name=\"{name}\"")
        };
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (body, format!("multipart/form-data; boundary={boundary}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_imported_from_a_csv_file_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    central_store::Store::open(&db)
        .unwrap()
        .put_ops(&[
            Op::PutBranch(rong_tests::fixtures::branch("kontum")),
            Op::PutBranch(rong_tests::fixtures::branch("dakto")),
            Op::PutCategory(Category {
                id: "adult".into(),
                name: "Người lớn".into(),
                max_loans: 5,
            }),
        ])
        .unwrap();
    let (ana, csrf) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, bo_csrf) = common::staff_session(&db, "bo", Role::Staff, Some("dakto"));
    let (cu, cu_csrf) = common::staff_session(&db, "cu", Role::Readonly, Some("kontum"));
    let c = common::Dashboard::new(run);
    let send = |who: String, fields: Vec<(&'static str, String)>| {
        let c = &c;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (body, kind) = multipart(&pairs);
            c.http
                .post(c.run.url("/admin/readers/import?lang=en"))
                .header("cookie", format!("rong_session={who}"))
                .header("content-type", kind)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        c.get("/admin/readers/import", &ana).await.status(),
        StatusCode::OK
    );

    let bad = "card,name,category,branch,pin\nP1,Y Bhăm Ênuôl,adult,kontum,2468\nP2,A Thị Hoa,alien,kontum,\n";
    let r = send(
        ana.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("file", bad.into()),
            ("action", "check".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("data-line=\"3\""), "{body}");
    // Asking to import a file with a bad line imports nothing either.
    let r = send(
        ana.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("text", bad.into()),
            ("action", "import".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(common::count(&db, "SELECT count(*) FROM patrons"), 0);

    let good = "card,name,category,branch,pin\nP1,Y Bhăm Ênuôl,adult,kontum,2468\nP2,A Thị Hoa,adult,kontum,\n";
    let r = send(
        ana.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("file", good.into()),
            ("action", "check".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("id=\"import-preview\"") && body.contains("Import 2 readers"),
        "{body}"
    );
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM patrons"),
        0,
        "a preview imports nothing"
    );
    let r = send(
        ana.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("text", good.into()),
            ("action", "import".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("id=\"import-done\""));
    assert_eq!(common::count(&db, "SELECT count(*) FROM patrons"), 2);
    assert_eq!(
        common::count(&db, "SELECT count(*) FROM patron_pins WHERE card = 'P1'"),
        1
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action = 'readers.import'"
        ),
        1
    );

    // Đăk Tô's staff cannot put readers in Kon Tum; read-only users import nothing.
    let theirs = "card,name,category,branch\nP3,Đinh Văn Lực,adult,kontum\n";
    let r = send(
        bo.clone(),
        vec![
            ("csrf", bo_csrf.clone()),
            ("text", theirs.into()),
            ("action", "import".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = send(
        cu.clone(),
        vec![
            ("csrf", cu_csrf.clone()),
            ("text", good.into()),
            ("action", "import".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(common::count(&db, "SELECT count(*) FROM patrons"), 2);
    c.run.stop().await;
}
