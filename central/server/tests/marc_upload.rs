//! The catalogue from a MARC file uploaded in the dashboard, over HTTP against a running
//! central: the records and their copies go in, a bad record is listed with why, a file
//! that is not MARC is refused; only administrators import.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_catalogue::marc::{iso2709, Field, Record};
use central_store::admin::Role;
use reqwest::StatusCode;
use rong_protocol::delta::Op;

fn record(n: u32, title: Option<&str>, branch: &str) -> Vec<u8> {
    let mut r = Record::new();
    r.fields.push(Field::Control {
        tag: *b"001",
        value: format!("KT{n}").into_bytes(),
    });
    if let Some(t) = title {
        r.fields.push(Field::text(b"245", &[(b'a', t)]));
    }
    r.fields.push(Field::text(
        b"952",
        &[
            (b'a', branch),
            (b'b', branch),
            (b'p', &format!("KT{n:08}")),
            (b'y', "BOOK"),
        ],
    ));
    iso2709::to_bytes(&r).expect("writable record")
}

async fn upload(c: &common::Dashboard, who: &str, csrf: &str, file: &[u8]) -> reqwest::Response {
    let boundary = "rongmarcboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.mrc\"\r\n\
         Content-Type: application/marc\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    c.http
        .post(c.run.url("/admin/catalogue/import?lang=en"))
        .header("cookie", format!("rong_session={who}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marc_file_uploaded_in_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let db = run.db.clone();
    central_store::Store::open(&db)
        .unwrap()
        .put_ops(&[Op::PutBranch(rong_tests::fixtures::branch("kontum"))])
        .unwrap();
    let (ana, csrf) = common::staff_session(&db, "ana", Role::Admin, None);
    let (bo, bo_csrf) = common::staff_session(&db, "bo", Role::Staff, Some("kontum"));
    let c = common::Dashboard::new(run);
    assert_eq!(
        c.get("/admin/catalogue/import", &ana).await.status(),
        StatusCode::OK
    );

    // Two good records, and one whose only copy is at a branch the network does not have.
    let file = [
        record(1, Some("Địa chí Kon Tum"), "kontum"),
        record(2, Some("Sử thi Ba Na"), "kontum"),
        record(3, Some("Truyện cổ Xơ Đăng"), "nowhere"),
    ]
    .concat();
    let r = upload(&c, &ana, &csrf, &file).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Imported 2 new records, replaced 0, left out 1"),
        "{body}"
    );
    assert!(body.contains("id=\"marc-skipped\""), "{body}");
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM items WHERE home_branch = 'kontum'"
        ),
        2
    );
    assert_eq!(
        common::count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action = 'marc.import'"
        ),
        1
    );
    assert!(
        std::fs::read_dir(dir.path().join("data").join("imports"))
            .unwrap()
            .next()
            .is_none(),
        "the upload is not kept"
    );

    let r = upload(&c, &ana, &csrf, b"this is not MARC at all").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text().await.unwrap().contains("id=\"marc-skipped\""),
        "says why"
    );
    assert_eq!(
        upload(&c, &bo, &bo_csrf, &file).await.status(),
        StatusCode::FORBIDDEN,
        "administrators only"
    );
    c.run.stop().await;
}
