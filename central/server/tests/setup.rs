//! The first-run setup in the browser (`/setup`, with the setup code from the data
//! directory) and the branches pages, over HTTP against a running central: bad input is
//! shown back in the page's language and saves nothing; a branch reaches the devices'
//! change log; branch staff may not change branches; once set up, `/setup` is closed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;

const BRANCH: [(&str, &str); 9] = [
    ("code", "kontum"),
    ("name_vi", "Thư viện tỉnh Kon Tum"),
    ("name_en", "Kon Tum Provincial Library"),
    ("address", "Số 1 Trần Phú, TP. Kon Tum"),
    ("hours_1", "07:30-11:30, 13:30-17:00"),
    ("hours_2", "07:30-11:30, 13:30-17:00"),
    ("hours_3", "07:30-11:30"),
    ("hours_6", "08:00-11:30"),
    ("hours_7", ""),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_central_is_set_up_in_the_browser_and_its_branches_kept_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = common::start(common::config(&data)).await;
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code_file = data.join("setup-code");
    let code = std::fs::read_to_string(&code_file)
        .expect("a fresh central writes its setup code")
        .trim()
        .to_owned();

    let page = http.get(run.url("/setup?lang=en")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let setup_cookie = common::set_cookie(&page, "rong_setup_csrf").unwrap();
    let csrf = common::csrf_in(&page.text().await.unwrap());
    let post = |fields: Vec<(&'static str, String)>, lang: &'static str| {
        let http = http.clone();
        let url = run.url(&format!("/setup?lang={lang}"));
        let setup_cookie = setup_cookie.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http.post(url)
                .header("cookie", format!("rong_setup_csrf={setup_cookie}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(common::form_body(&pairs))
                .send()
                .await
                .unwrap()
        }
    };
    let fields = |code: &str, admin: &str, hours_1: &str| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("csrf", csrf.clone()),
            ("setup_code", code.to_owned()),
            ("admin", admin.to_owned()),
            ("password", "mật khẩu dài".into()),
            ("password2", "mật khẩu dài".into()),
            ("network", "Thư viện tỉnh Kon Tum".into()),
        ];
        for (k, v) in BRANCH {
            f.push((
                k,
                if k == "hours_1" {
                    hours_1.to_owned()
                } else {
                    v.to_owned()
                },
            ));
        }
        f
    };

    // No credentials at all (no code, no CSRF cookie), and the right code without the
    // form's CSRF cookie: refused, nothing written.
    let bare = http
        .post(run.url("/setup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("admin=x")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    let pairs: Vec<(&str, String)> = fields(&code, "quantri", "07:30-11:30");
    let body: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let no_cookie = http
        .post(run.url("/setup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form_body(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM admin_users"),
        0
    );
    // A wrong code: refused, nothing written.
    let r = post(fields("not-the-code", "quantri", "07:30-11:30"), "en").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("setup-code"));
    // Bad input: every mistake shown, in the page's language; nothing written.
    let r = post(fields(&code, "quan tri", "17:00-07:00"), "vi").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    assert!(body.contains("Chưa lưu"), "{body}");
    assert!(body.contains("data-field=\"admin\""), "{body}");
    assert!(
        body.contains("Thứ Hai: &quot;17:00-07:00&quot; không phải giờ mở cửa"),
        "{body}"
    );
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM admin_users"),
        0
    );
    assert_eq!(common::count(&run.db, "SELECT count(*) FROM branches"), 0);

    let r = post(fields(&code, "quantri", "07:30-11:30, 13:30-17:00"), "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/branches?welcome=1");
    let session = common::set_cookie(&r, "rong_session").expect("logged in");
    assert!(!code_file.exists(), "the code is spent");
    assert_eq!(
        common::count(
            &run.db,
            "SELECT count(*) FROM branches WHERE id = 'kontum' AND closed_weekdays = '[4,5,7]'"
        ),
        1
    );
    assert_eq!(
        common::count(
            &run.db,
            "SELECT count(*) FROM audit_log WHERE action = 'network.init'"
        ),
        1
    );
    // Closed from now on.
    let r = http.get(run.url("/setup")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/login");
    let r = post(fields(&code, "someone", "07:30-11:30"), "en").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM admin_users"),
        1
    );

    // The branches page, as the new administrator.
    let get = |path: &str, cookie: String| {
        let http = http.clone();
        let url = run.url(path);
        async move {
            http.get(url)
                .header("cookie", format!("rong_session={cookie}"))
                .send()
                .await
                .unwrap()
        }
    };
    let r = get("/admin/branches?welcome=1&lang=en", session.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.contains("Kon Tum Provincial Library"), "{body}");
    assert!(body.contains("id=\"welcome\""), "{body}");
    let csrf = common::csrf_in(&body);
    let save = |path: &'static str, cookie: String, fields: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = run.url(path);
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http.post(url)
                .header("cookie", format!("rong_session={cookie}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(common::form_body(&pairs))
                .send()
                .await
                .unwrap()
        }
    };
    let dakto = |csrf: &str, code: &str, hours: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.to_owned()),
            ("code", code.to_owned()),
            ("name_vi", "Thư viện huyện Đăk Tô".into()),
            ("hours_1", hours.to_owned()),
            ("require_pin", "on".into()),
        ]
    };
    let changes = common::count(&run.db, "SELECT count(*) FROM changes");
    let r = save(
        "/admin/branches?lang=en",
        session.clone(),
        dakto(&csrf, "dakto", "8-25"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Monday: &quot;8-25&quot; is not opening hours"));
    let r = save(
        "/admin/branches",
        session.clone(),
        dakto(&csrf, "dakto", "08:00-12:00"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM changes"),
        changes + 1,
        "the new branch goes to the devices as a delta"
    );
    let r = save(
        "/admin/branches?lang=en",
        session.clone(),
        dakto(&csrf, "dakto", "08:00-12:00"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("exists already"));
    // An edit keeps the code whatever the form says.
    let r = save(
        "/admin/branches/dakto",
        session.clone(),
        dakto(&csrf, "other", "08:00-11:00"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM branches WHERE id = 'dakto' AND require_pin = 1 AND hours LIKE '%11:00%'"),
        1
    );
    assert_eq!(
        common::count(&run.db, "SELECT count(*) FROM branches WHERE id = 'other'"),
        0
    );
    assert_eq!(
        common::count(
            &run.db,
            "SELECT count(*) FROM audit_log WHERE action IN ('branch.create', 'branch.update')"
        ),
        2
    );
    // Without the session's CSRF token: refused.
    let r = save(
        "/admin/branches",
        session.clone(),
        dakto("forged", "sathay", "08:00-11:00"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A branch's staff see their branch and change none.
    let staff = {
        let mut s = central_store::Store::open(&run.db).unwrap();
        s.create_user("thuthu", "$argon2id$x", Role::Staff, Some("dakto"), 1)
            .unwrap();
        let (cookie, csrf) = (central_web::random_token(), central_web::random_token());
        let now = chrono::Utc::now().timestamp_millis();
        s.create_session(
            &central_web::token_hash(&cookie),
            "thuthu",
            &csrf,
            now,
            now + 3_600_000,
        )
        .unwrap();
        (cookie, csrf)
    };
    let body = get("/admin/branches", staff.0.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("data-branch=\"dakto\""));
    assert!(
        !body.contains("data-branch=\"kontum\""),
        "another branch is hidden"
    );
    assert_eq!(
        get("/admin/branches/new", staff.0.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get("/admin/branches/dakto", staff.0.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = save(
        "/admin/branches/dakto",
        staff.0.clone(),
        dakto(&staff.1, "dakto", "01:00-02:00"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    run.stop().await;
}
