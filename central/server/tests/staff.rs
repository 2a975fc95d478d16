//! Staff accounts in the dashboard, over HTTP against a running central: an administrator
//! adds an account (bad input listed, nothing saved), the account logs in and its last
//! login shows, it is disabled (logged out at once, no login) and enabled, its password is
//! reset, and its owner changes it; branch staff may not manage accounts; the last
//! administrator cannot be disabled. Every change is in the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::admin::Role;
use reqwest::StatusCode;

struct Client {
    dash: common::Dashboard,
}

impl Client {
    async fn get(&self, path: &str, session: &str) -> reqwest::Response {
        self.dash.get(path, session).await
    }

    async fn post(&self, path: &str, session: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.dash.post(path, session, fields).await
    }

    /// Logs in through the form; the session cookie, or the status when refused.
    async fn login(&self, user: &str, password: &str) -> Result<String, StatusCode> {
        let page = self
            .dash
            .http
            .get(self.dash.run.url("/admin/login"))
            .send()
            .await
            .unwrap();
        let csrf = common::set_cookie(&page, "rong_login_csrf").unwrap();
        let r = self
            .dash
            .http
            .post(self.dash.run.url("/admin/login"))
            .header("cookie", format!("rong_login_csrf={csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(common::form_body(&[
                ("user", user),
                ("password", password),
                ("csrf", &csrf),
            ]))
            .send()
            .await
            .unwrap();
        match r.status() {
            StatusCode::SEE_OTHER => Ok(common::set_cookie(&r, "rong_session").unwrap()),
            other => Err(other),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_kept_in_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    {
        let mut s = central_store::Store::open(&run.db).unwrap();
        s.put_ops(&[rong_protocol::delta::Op::PutBranch(
            rong_tests::fixtures::branch("dakto"),
        )])
        .unwrap();
        let hash = central_web::hash_password("mật-khẩu-của-ana").unwrap();
        s.create_user("ana", &hash, Role::Admin, None, 1).unwrap();
    }
    let c = Client {
        dash: common::Dashboard::new(run),
    };
    let db = c.dash.run.db.clone();
    let ana = c.login("ana", "mật-khẩu-của-ana").await.unwrap();
    let page = c.get("/admin/staff?lang=en", &ana).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = common::csrf_in(&page.text().await.unwrap());

    // Bad input: every mistake, nothing saved.
    let r = c
        .post(
            "/admin/staff?lang=en",
            &ana,
            &[
                ("csrf", &csrf),
                ("name", "bo x"),
                ("role", "staff"),
                ("branch", ""),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.unwrap();
    for field in ["name", "branch", "password"] {
        assert!(
            body.contains(&format!("data-field=\"{field}\"")),
            "{field}: {body}"
        );
    }
    assert_eq!(common::count(&db, "SELECT count(*) FROM admin_users"), 1);

    let new_bo = [
        ("csrf", csrf.as_str()),
        ("name", "bo"),
        ("role", "staff"),
        ("branch", "dakto"),
        ("password", "tạm-thời-123"),
        ("password2", "tạm-thời-123"),
    ];
    assert_eq!(
        c.post("/admin/staff", &ana, &new_bo).await.status(),
        StatusCode::SEE_OTHER
    );
    let r = c.post("/admin/staff?lang=en", &ana, &new_bo).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("already a user bo"));

    // Bo logs in; the list shows when; branch staff may not manage accounts.
    let bo = c.login("bo", "tạm-thời-123").await.unwrap();
    let list = c
        .get("/admin/staff?lang=en", &ana)
        .await
        .text()
        .await
        .unwrap();
    let row = list.split("data-user=\"bo\"").nth(1).unwrap();
    assert!(!row[..200].contains("never"), "last login shown: {row}");
    assert_eq!(
        c.get("/admin/staff", &bo).await.status(),
        StatusCode::FORBIDDEN
    );
    let bo_csrf = common::csrf_in(&c.get("/admin/account", &bo).await.text().await.unwrap());
    assert_eq!(
        c.post("/admin/staff/ana/disable", &bo, &[("csrf", &bo_csrf)])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Disabled: logged out at once, and no login.
    assert_eq!(
        c.post("/admin/staff/bo/disable", &ana, &[("csrf", &csrf)])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let r = c.get("/admin/devices", &bo).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/admin/login"));
    assert_eq!(
        c.login("bo", "tạm-thời-123").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        c.post("/admin/staff/bo/enable", &ana, &[("csrf", &csrf)])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // A reset: the old password no longer works.
    let r = c
        .post(
            "/admin/staff/bo/password",
            &ana,
            &[
                ("csrf", &csrf),
                ("password", "mới-đặt-lại-1"),
                ("password2", "mới-đặt-lại-1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        c.login("bo", "tạm-thời-123").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    let bo = c.login("bo", "mới-đặt-lại-1").await.unwrap();
    let other_bo = c.login("bo", "mới-đặt-lại-1").await.unwrap();

    // Bo changes it: the current one is asked for; the other session ends.
    let bo_csrf = common::csrf_in(&c.get("/admin/account", &bo).await.text().await.unwrap());
    let change = |current: &'static str| {
        [
            ("csrf", bo_csrf.clone()),
            ("current", current.to_owned()),
            ("password", "của-riêng-bo-9".to_owned()),
            ("password2", "của-riêng-bo-9".to_owned()),
        ]
    };
    let wrong = change("đoán-bừa-123");
    let pairs: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/admin/account?lang=en", &bo, &pairs).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not your password"));
    let right = change("mới-đặt-lại-1");
    let pairs: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/admin/account", &bo, &pairs).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("id=\"account-done\""));
    assert_eq!(
        c.get("/admin/devices", &bo).await.status(),
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        c.get("/admin/devices", &other_bo).await.status(),
        StatusCode::SEE_OTHER,
        "the other one ends"
    );
    assert!(c.login("bo", "của-riêng-bo-9").await.is_ok());

    // The last administrator stays.
    let r = c
        .post("/admin/staff/ana/disable", &ana, &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(c.login("ana", "mật-khẩu-của-ana").await.is_ok());

    for action in [
        "staff.create",
        "staff.disable",
        "staff.enable",
        "staff.password_reset",
        "account.password",
    ] {
        assert_eq!(
            common::count(
                &db,
                &format!("SELECT count(*) FROM audit_log WHERE action = '{action}'")
            ),
            1,
            "{action}"
        );
    }
    c.dash.run.stop().await;
}
