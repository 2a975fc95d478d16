//! Who may call what (issue 14, "Every HTTP route has an owner"): central in-process on
//! port 0, called over HTTP with API tokens, dashboard sessions, and nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central::routes::{is_staff_api, paths, Caller};
use central_store::admin::Role;
use central_store::synthetic::{generate_with_pin_params, SeedData};
use central_store::tokens::NewToken;
use central_store::Store;
use reqwest::{Method, StatusCode};
use rong_protocol::ids::{BranchId, DeviceId};
use serde_json::{json, Value};

/// The operator token this central is configured with.
const OPERATOR: &str = "operator-token-0123456789";

/// A session's cookie token and CSRF token, made straight in the store.
struct Session {
    cookie: String,
    csrf: String,
}

struct Central {
    run: common::Running,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    data: SeedData,
    db: std::path::PathBuf,
}

/// Makes a token in the store and answers it.
fn token(store: &mut Store, role: Role, branch: Option<&str>, expires_at: Option<i64>) -> String {
    let t = format!("rong_{}", central_web::random_token());
    let hash = central_web::token_hash(&t);
    let new = NewToken {
        label: "test",
        token_hash: &hash,
        role,
        branch,
        expires_at,
    };
    store.create_token(&new, 1).unwrap();
    t
}

impl Central {
    /// Central with the seeded library, two devices (one of Kon Tum, one of Đăk Tô), an
    /// operator token, and `tweak` applied to its config.
    async fn start(tweak: impl FnOnce(&mut central::Config)) -> Central {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::config(&dir.path().join("data"));
        let token_file = dir.path().join("operator-token");
        std::fs::write(&token_file, format!("{OPERATOR}\n")).unwrap();
        config.http.operator_token_file = Some(token_file);
        tweak(&mut config);
        std::fs::create_dir_all(&config.data_dir).unwrap();
        let data = generate_with_pin_params(24, 24, 1, argon2::Params::new(8, 1, 1, None).unwrap());
        let mut store = Store::open(&config.db_path()).unwrap();
        store.write_seed(&data, 420).unwrap();
        for (branch, device) in [("kontum", "kontum-kiosk-1"), ("dakto", "dakto-kiosk-1")] {
            let (b, d) = (
                BranchId::new(branch).unwrap(),
                DeviceId::new(device).unwrap(),
            );
            let key = rong_identity::KeyPair::generate().public().to_base64();
            central_store::identity::enrol_directly(&mut store, &b, &d, &key, 1).unwrap();
        }
        drop(store);
        let db = config.db_path();
        Central {
            run: common::start(config).await,
            http: common::http(),
            _dir: dir,
            data,
            db,
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.db).unwrap()
    }

    fn token(&self, role: Role, branch: Option<&str>) -> String {
        token(&mut self.store(), role, branch, None)
    }

    /// A patron whose home branch is `branch`.
    fn patron_of(&self, branch: &str) -> String {
        self.data
            .patrons
            .iter()
            .find(|p| p.patron.branch.as_str() == branch)
            .expect("a patron of the branch")
            .patron
            .card
            .clone()
    }

    /// A dashboard user of `role` with a live session.
    fn session(&self, name: &str, role: Role, branch: Option<&str>) -> Session {
        let mut s = self.store();
        s.create_user(name, "$argon2id$x", role, branch, 1).unwrap();
        let (cookie, csrf) = (central_web::random_token(), central_web::random_token());
        let hash = central_web::token_hash(&cookie);
        let now = chrono::Utc::now().timestamp_millis();
        s.create_session(&hash, name, &csrf, now, now + 3_600_000)
            .unwrap();
        Session { cookie, csrf }
    }

    /// Sends `method path` with `headers` and an optional JSON body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.run.url(path));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn with_token(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let auth = [("authorization", format!("Bearer {token}"))];
        self.send(method, path, &auth, body).await
    }
}

/// A path of the route table with its parameters filled with sample values.
fn sample(path: &str) -> String {
    path.replace("{card}", "P000001")
        .replace("{barcode}", "KT00000001")
        .replace("{id}", "kontum-kiosk-1")
        .replace("{branch}", "kontum")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_staff_json_and_operator_route_refuses_a_caller_without_credentials() {
    let c = Central::start(|_| {}).await;
    let guarded: Vec<&str> = paths()
        .into_iter()
        .filter(|(caller, p)| {
            (*caller == Caller::Staff && is_staff_api(p)) || *caller == Caller::Operator
        })
        .map(|(_, p)| p)
        .collect();
    assert!(guarded.len() >= 13, "the table lost routes: {guarded:?}");
    for path in guarded {
        let url = sample(path);
        // Each route answers 401 to the methods it has and 405 to the others: a route
        // without the guard would answer its method with something else.
        let mut refused = 0;
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let r = c.send(method.clone(), &url, &[], Some(json!({}))).await;
            match r.status() {
                StatusCode::UNAUTHORIZED => {
                    refused += 1;
                    let challenge = r.headers().get("www-authenticate").unwrap();
                    assert_eq!(challenge, "Bearer", "{method} {url}");
                    let body: Value = r.json().await.unwrap();
                    assert!(body["error"].is_string(), "{method} {url}: {body}");
                }
                StatusCode::METHOD_NOT_ALLOWED => {}
                other => panic!("{method} {url} without credentials answered {other}"),
            }
        }
        assert!(refused > 0, "{url} refused no method");
        // Bad credentials are refused alike.
        let r = c.with_token("rong_nope", Method::GET, &url, None).await;
        assert!(
            matches!(
                r.status(),
                StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{url} with a bad token: {}",
            r.status()
        );
    }
    c.run.stop().await;
}

/// The dashboard's pages that anyone may open: the login, its static files, the language
/// switch, and the redirects to the devices page.
const OPEN_PAGES: &[&str] = &[
    "/",
    "/admin",
    "/admin/",
    "/admin/login",
    "/admin/lang",
    "/admin/static/app.css",
    "/admin/static/app.js",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_page_refuses_a_caller_without_a_session() {
    let c = Central::start(|_| {}).await;
    // Redirects are looked at, not followed.
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api_token = c.token(Role::Admin, None);
    let pages: Vec<&str> = paths()
        .into_iter()
        .filter(|(caller, p)| {
            *caller == Caller::Staff && !is_staff_api(p) && !OPEN_PAGES.contains(p)
        })
        .map(|(_, p)| p)
        .collect();
    assert!(pages.len() >= 14, "the table lost pages: {pages:?}");
    // No credentials, a made-up session, and an API token (which opens the JSON API, not
    // the pages): each is sent to the login page or refused.
    let callers: [(&str, Option<(&str, String)>); 3] = [
        ("nothing", None),
        (
            "a made-up session",
            Some(("cookie", "rong_session=nope".into())),
        ),
        (
            "an API token",
            Some(("authorization", format!("Bearer {api_token}"))),
        ),
    ];
    for path in pages {
        let url = c.run.url(&sample(path));
        for (who, header) in &callers {
            let mut refused = 0;
            for method in [Method::GET, Method::POST] {
                let mut req = http.request(method.clone(), &url);
                if let Some((k, v)) = header {
                    req = req.header(*k, v);
                }
                let r = req.send().await.unwrap();
                match r.status() {
                    StatusCode::SEE_OTHER => {
                        let to = r.headers()["location"].to_str().unwrap();
                        assert!(
                            to.starts_with("/admin/login"),
                            "{method} {url} ({who}) → {to}"
                        );
                        refused += 1;
                    }
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => refused += 1,
                    StatusCode::METHOD_NOT_ALLOWED => {}
                    other => panic!("{method} {url} with {who} answered {other}"),
                }
            }
            assert!(refused > 0, "{url} refused no method to {who}");
        }
    }
    c.run.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn branches_roles_and_token_lifetimes_are_enforced() {
    let c = Central::start(|_| {}).await;
    let (mine, theirs) = (c.patron_of("kontum"), c.patron_of("dakto"));
    let staff = c.token(Role::Staff, Some("kontum"));
    let block = |card: &str| format!("/api/v1/patrons/{card}/block");
    let reason = json!({"reason": "Mất thẻ"});
    let cmd = json!({"command": "sync_now"});

    // Another branch's staff: 403 on patron, block, device, device command, events.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/patrons/{theirs}"), None),
        (Method::POST, block(&theirs), Some(reason.clone())),
        (Method::DELETE, block(&theirs), None),
        (Method::GET, "/api/v1/devices/dakto-kiosk-1".into(), None),
        (
            Method::POST,
            "/api/v1/devices/dakto-kiosk-1/commands".into(),
            Some(cmd.clone()),
        ),
        (
            Method::GET,
            "/api/v1/events?device=dakto-kiosk-1".into(),
            None,
        ),
        (Method::GET, "/api/v1/stats".into(), None),
    ] {
        let r = c.with_token(&staff, method.clone(), &path, body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    // Their own branch: allowed; lists are filtered to it.
    let r = c
        .with_token(
            &staff,
            Method::GET,
            &format!("/api/v1/patrons/{mine}"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .with_token(&staff, Method::POST, &block(&mine), Some(reason.clone()))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .with_token(
            &staff,
            Method::POST,
            "/api/v1/devices/kontum-kiosk-1/commands",
            Some(cmd.clone()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let devices: Value = c
        .with_token(&staff, Method::GET, "/api/v1/devices", None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["kontum-kiosk-1"]);
    let loans: Value = c
        .with_token(&staff, Method::GET, "/api/v1/loans", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        loans
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["branch"] == "kontum"),
        "{loans}"
    );
    let admin = c.token(Role::Admin, None);
    let all: Value = c
        .with_token(&admin, Method::GET, "/api/v1/devices", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);

    // Read-only: reads its branch, changes nothing.
    let ro = c.token(Role::Readonly, Some("kontum"));
    let r = c
        .with_token(&ro, Method::GET, &format!("/api/v1/patrons/{mine}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, block(&mine), Some(reason.clone())),
        (Method::DELETE, block(&mine), None),
        (
            Method::POST,
            "/api/v1/devices/kontum-kiosk-1/commands".into(),
            Some(cmd.clone()),
        ),
    ] {
        let r = c.with_token(&ro, method.clone(), &path, body).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "read-only {method} {path}"
        );
    }

    // A revoked token stops at once; an expired one does not work.
    let mut store = c.store();
    let doomed = token(&mut store, Role::Admin, None, None);
    let r = c
        .with_token(&doomed, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = central_store::tokens::list(store.reader())
        .unwrap()
        .last()
        .unwrap()
        .id;
    assert!(store
        .revoke_token(id, chrono::Utc::now().timestamp_millis())
        .unwrap());
    let r = c
        .with_token(&doomed, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "revoked");
    let expired = token(&mut store, Role::Admin, None, Some(2));
    let r = c
        .with_token(&expired, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "expired");
    drop(store);
    c.run.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_change_needs_the_sessions_csrf_token() {
    let c = Central::start(|_| {}).await;
    let s = c.session("ana", Role::Admin, None);
    let cookie = ("cookie", format!("rong_session={}", s.cookie));
    let path = format!("/api/v1/patrons/{}/block", c.patron_of("dakto"));
    let body = Some(json!({"reason": "Mất thẻ"}));
    let r = c
        .send(
            Method::GET,
            "/api/v1/devices",
            std::slice::from_ref(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "a read needs no CSRF token");
    let r = c
        .send(
            Method::POST,
            &path,
            std::slice::from_ref(&cookie),
            body.clone(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF header");
    let wrong = ("x-csrf-token", central_web::random_token());
    let r = c
        .send(Method::POST, &path, &[cookie.clone(), wrong], body.clone())
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "another CSRF token");
    let right = ("x-csrf-token", s.csrf.clone());
    let r = c
        .send(Method::POST, &path, &[cookie.clone(), right], body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A read-only user's session changes nothing either.
    let ro = c.session("ro", Role::Readonly, Some("dakto"));
    let headers = [
        ("cookie", format!("rong_session={}", ro.cookie)),
        ("x-csrf-token", ro.csrf.clone()),
    ];
    let r = c.send(Method::DELETE, &path, &headers, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    c.run.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_the_operator_token_when_one_is_configured() {
    let c = Central::start(|_| {}).await;
    let r = c.send(Method::GET, "/metrics", &[], None).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "loopback is not enough with a token"
    );
    let r = c.with_token(OPERATOR, Method::GET, "/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("rong_"));
    let r = c
        .with_token(OPERATOR, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let admin = c.token(Role::Admin, None);
    let r = c.with_token(&admin, Method::GET, "/metrics", None).await;
    assert_eq!(r.status(), StatusCode::OK, "an administrator's API token");
    let staff = c.token(Role::Staff, Some("kontum"));
    let r = c.with_token(&staff, Method::GET, "/metrics", None).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a branch token is not an operator's"
    );
    // The operator token is not a staff credential.
    let r = c
        .with_token(OPERATOR, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    c.run.stop().await;

    // Without a token configured, loopback is enough.
    let open = Central::start(|c| c.http.operator_token_file = None).await;
    let r = open.send(Method::GET, "/metrics", &[], None).await;
    assert_eq!(r.status(), StatusCode::OK);
    open.run.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn public_routes_are_read_only_and_rate_limited() {
    let c = Central::start(|c| {
        c.http.public_burst = 3;
        c.http.public_per_second = 0.01;
    })
    .await;
    let r = c.send(Method::POST, "/opac", &[], None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(c.send(Method::GET, "/healthz", &[], None).await);
    }
    let last = statuses.pop().unwrap();
    assert!(statuses.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = last.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    // Staff routes are not the public limit's.
    let admin = c.token(Role::Admin, None);
    let r = c
        .with_token(&admin, Method::GET, "/api/v1/devices", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    c.run.stop().await;
}

/// The value of cookie `name` that a response sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> String {
    common::set_cookie(r, name).unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_and_logins_are_audited_and_shown() {
    let c = Central::start(|_| {}).await;
    let hash = central_web::hash_password("correct-horse").unwrap();
    c.store()
        .create_user("bo", &hash, Role::Staff, Some("kontum"), 1)
        .unwrap();
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A failed and a good login through the dashboard's form.
    let login = |password: &'static str| {
        let http = http.clone();
        let url = c.run.url("/admin/login");
        async move {
            let page = http.get(&url).send().await.unwrap();
            let csrf = set_cookie(&page, "rong_login_csrf");
            http.post(&url)
                .header("cookie", format!("rong_login_csrf={csrf}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("user=bo&password={password}&csrf={csrf}"))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        login("wrong-horse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let ok = login("correct-horse").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&ok, "rong_session");
    // A block through the API with a token.
    let card = c.patron_of("kontum");
    let admin = c.token(Role::Admin, None);
    let path = format!("/api/v1/patrons/{card}/block");
    let r = c
        .with_token(
            &admin,
            Method::POST,
            &path,
            Some(json!({"reason": "Mất thẻ"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let rows = central_store::audit::page(c.store().reader(), None, None, 10).unwrap();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.entry.action.as_str(), r.entry.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("patron.block", "token:test"),
            ("login", "bo"),
            ("login.failed", "bo")
        ]
    );
    assert_eq!(rows[0].entry.target, card);
    assert_eq!(rows[0].entry.detail, "Mất thẻ");
    assert_eq!(rows[0].entry.branch.as_deref(), Some("kontum"));
    assert_eq!(rows[0].entry.peer.as_deref(), Some("127.0.0.1"));

    // The page shows them to kontum's staff (newest first), in English on request.
    let page = http
        .get(c.run.url("/admin/audit?lang=en"))
        .header("cookie", format!("rong_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Audit log"), "{html}");
    let block_at = html.find("patron.block").expect("the block is shown");
    let login_at = html.find(">login<").expect("the login is shown");
    assert!(block_at < login_at, "newest first");
    // The failed login names no branch: only administrators see it.
    assert!(!html.contains("login.failed"));
    c.run.stop().await;
}

/// Revoking a device is for administrators and the device's own branch's staff; deciding
/// on quarantined events is for administrators; both are audited with who did it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_revocation_and_quarantine_decisions_have_owners() {
    let c = Central::start(|_| {}).await;
    let kontum = c.token(Role::Staff, Some("kontum"));
    let readonly = c.token(Role::Readonly, Some("kontum"));
    let admin = c.token(Role::Admin, None);
    let revoke = |d: &str| format!("/api/v1/devices/{d}/revoke");
    let post = async |t: &str, p: String| c.with_token(t, Method::POST, &p, None).await;
    let status = |r: reqwest::Response| r.status();
    assert_eq!(
        status(post(&kontum, revoke("dakto-kiosk-1")).await),
        StatusCode::FORBIDDEN,
        "another branch's device"
    );
    assert_eq!(
        status(post(&readonly, revoke("kontum-kiosk-1")).await),
        StatusCode::FORBIDDEN,
        "read-only"
    );
    assert_eq!(
        status(post(&kontum, revoke("kontum-kiosk-1")).await),
        StatusCode::OK
    );
    // No batch 1 exists: staff are refused before the lookup, an administrator gets 404.
    let accept = "/api/v1/quarantine/1/accept".to_owned();
    assert_eq!(
        status(post(&kontum, accept.clone()).await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(status(post(&admin, accept).await), StatusCode::NOT_FOUND);
    let r = c
        .with_token(&kontum, Method::GET, "/api/v1/quarantine", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let rows = central_store::audit::page(c.store().reader(), None, None, 10).unwrap();
    let revoked = rows
        .iter()
        .find(|r| r.entry.action == "device.revoke")
        .expect("the revocation is audited");
    assert_eq!(revoked.entry.target, "kontum-kiosk-1");
    assert_eq!(revoked.entry.branch.as_deref(), Some("kontum"));
    assert_eq!(revoked.entry.role.as_deref(), Some("staff"));
    c.run.stop().await;
}

/// The dashboard's device identity pages: a code made by an administrator (text and QR
/// code) that a board can spend; a revocation by the device's branch's staff only; held
/// events shown to their branch, decided by administrators only; all audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_enrols_revokes_and_reviews_held_events() {
    let c = Central::start(|_| {}).await;
    let admin = c.session("ana", Role::Admin, None);
    let staff = c.session("bo", Role::Staff, Some("kontum"));
    let other = c.session("lan", Role::Staff, Some("dakto"));
    let get = async |s: &Session, path: &str| {
        c.http
            .get(c.run.url(path))
            .header("cookie", format!("rong_session={}", s.cookie))
            .send()
            .await
            .unwrap()
    };
    let post = async |s: &Session, path: &str, form: &[(&str, &str)]| {
        let mut fields = vec![("csrf", s.csrf.as_str())];
        fields.extend_from_slice(form);
        let enc = |v: &str| -> String {
            v.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        c.http
            .post(c.run.url(path))
            .header("cookie", format!("rong_session={}", s.cookie))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .unwrap()
    };

    // The form is for administrators.
    assert_eq!(
        get(&staff, "/admin/enrol").await.status(),
        StatusCode::FORBIDDEN
    );
    let form = get(&admin, "/admin/enrol?lang=en").await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.unwrap().contains("id=\"enrol-form\""));
    let ask = [
        ("branch", "kontum"),
        ("role", "kiosk"),
        ("device", "kontum-kiosk-7"),
        ("hours", "2"),
    ];
    assert_eq!(
        post(&staff, "/admin/enrol", &ask).await.status(),
        StatusCode::FORBIDDEN
    );
    // Shown once, as text and as a QR code; a board spends it.
    let r = post(&admin, "/admin/enrol", &ask).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code");
    let code = page
        .split("id=\"enrol-code\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|text| text.split('<').next())
        .expect("the code on the page")
        .to_owned();
    assert!(code.starts_with("RONG-"), "{code}");
    let key = rong_identity::KeyPair::generate();
    let r = c
        .http
        .post(c.run.url(rong_identity::ENROL_PATH))
        .json(&json!({"code": code, "public_key": key.public().to_base64()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["device"], "kontum-kiosk-7");

    // Revoking: not by another branch's staff; by this branch's.
    let revoke = "/admin/devices/kontum-kiosk-7/revoke";
    assert_eq!(
        post(&other, revoke, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let shown = post(&staff, revoke, &[]).await;
    assert_eq!(shown.status(), StatusCode::OK, "back on the device's page");
    let shown = shown.text().await.unwrap();
    assert!(shown.contains("id=\"revoked-done\"") && shown.contains("id=\"device-revoked\""));
    assert!(
        !shown.contains("id=\"revoke-form\""),
        "nothing more to revoke"
    );
    let creds = central_store::identity::device_credentials(c.store().reader(), "kontum-kiosk-7")
        .unwrap()
        .unwrap();
    assert!(creds.revoked);

    // Held events: shown to their branch; decided by administrators only.
    let batch = rong_protocol::event::EventBatch::new(
        DeviceId::new("kontum-kiosk-7").unwrap(),
        uuid::Uuid::now_v7(),
        Vec::new(),
    );
    let kontum = BranchId::new("kontum").unwrap();
    c.store()
        .quarantine_batch(&kontum, &batch, "device is revoked", 1)
        .unwrap();
    let id = central_store::identity::quarantined(c.store().reader(), false, None).unwrap()[0].id;
    let list = get(&staff, "/admin/quarantine").await.text().await.unwrap();
    assert!(list.contains("kontum-kiosk-7"), "{list}");
    assert!(!list.contains("q-accept-"), "staff see no decision buttons");
    let theirs = get(&other, "/admin/quarantine").await.text().await.unwrap();
    assert!(!theirs.contains("kontum-kiosk-7"), "another branch's");
    let discard = format!("/admin/quarantine/{id}/discard");
    assert_eq!(
        post(&staff, &discard, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(get(&admin, "/admin/quarantine")
        .await
        .text()
        .await
        .unwrap()
        .contains(&format!("q-discard-{id}")));
    assert_eq!(post(&admin, &discard, &[]).await.status(), StatusCode::OK);
    let held = central_store::identity::quarantined(c.store().reader(), true, None).unwrap();
    assert_eq!(held[0].decision.as_deref(), Some("discarded"));

    let rows = central_store::audit::page(c.store().reader(), None, None, 20).unwrap();
    let did = |action: &str, actor: &str| {
        rows.iter()
            .any(|r| r.entry.action == action && r.entry.actor == actor)
    };
    assert!(did("device.code", "ana"));
    assert!(did("device.revoke", "bo"));
    assert!(did("quarantine.discard", "ana"));
    c.run.stop().await;
}
