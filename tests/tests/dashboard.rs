//! The fleet dashboard, end to end: a real central, real agents and a headless Chromium.
//! The browser logs in, watches a device go offline and come back without reloading,
//! sends "sync now" and sees the reply, acknowledges an alert, and downloads the CSV whose
//! numbers must match the loans made here. Screenshots of every page, desktop and phone,
//! are taken on every run; `RONG_UPDATE_SCREENS=1` writes them to `docs/screens/dashboard/`.
//! The security checks talk plain HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use rong_protocol::api::RequestOp;
use rong_tests::agent::card_who;
use rong_tests::browser::{screens_dir, Browser, BrowserOptions};
use rong_tests::fixtures::{card, free_adults, free_barcodes_of};
use rong_tests::http::{form, request_full};
use rong_tests::scenario::{wait_drained, wait_synced, BrokerKind, Scenario};
use rong_tests::staff::{try_login, Session};

const T: Duration = Duration::from_secs(30);
const PASSWORD: &str = "mật-khẩu-đủ-dài";

/// Saves desktop and phone screenshots of the current page (see [`screens_dir`]).
/// A scenario whose central config adds `central_toml`, with the dashboard admin `ana`.
fn with_admin_ana(central_toml: &str) -> Scenario {
    let s = Scenario::start(BrokerKind::Embedded, central_toml);
    s.central.admin_create("ana", PASSWORD, None);
    s
}

fn shoot(b: &Browser, name: &str) {
    b.shoot(&screens_dir("dashboard"), name)
        .expect("screenshots");
}

fn row_state(b: &Browser, device: &str) -> rong_tests::browser::WdResult<Option<String>> {
    let rows = b.find_all(&format!("#dev-{device}"))?;
    match rows.first() {
        Some(r) => b.attribute(r, "data-state"),
        None => Ok(None),
    }
}

#[test]
fn dashboard_in_a_browser() {
    let s = with_admin_ana(
        "[dashboard]\nheartbeat_secs = 2\n[alerts]\noffline_minutes = 0\ncheck_secs = 1\n",
    );
    let mut agent = s.prepare_agent("kontum-kiosk-1", "kontum", "[sync]\nheartbeat_secs = 1\n");
    agent.start();
    wait_synced(&agent);

    // Circulation to count: 3 loans, 1 renewal, 2 returns, 2 visits.
    let patron = card(free_adults(1, 1)[0]);
    let items = free_barcodes_of("kontum", 1, 3);
    let mut c = agent.client();
    c.call(RequestOp::Identify(card_who(&patron)));
    c.call(RequestOp::Identify(card_who(&patron)));
    for it in &items {
        c.checkout(&patron, it).expect("checkout");
    }
    c.renew(&patron, &items[1]).expect("renew");
    c.checkin(&items[0]).expect("checkin");
    // A return of an item central does not know: a circulation notice for the alerts page.
    c.checkin("KT77777777").expect("checkin of an unknown item");
    wait_drained(&agent, T);

    let base = format!("http://{}", s.central.http);
    let b = Browser::start_with(&BrowserOptions::default()).expect("browser");

    // Log in.
    b.navigate(&format!("{base}/admin/devices")).unwrap();
    b.wait_for("#user", T).unwrap();
    assert!(
        b.url().unwrap().contains("/admin/login"),
        "redirected to login"
    );
    shoot(&b, "login");
    b.type_text(&b.find("#user").unwrap(), "ana").unwrap();
    b.type_text(&b.find("#password").unwrap(), PASSWORD)
        .unwrap();
    b.click(&b.find("#login").unwrap()).unwrap();
    b.wait_for("#fleet", T).unwrap();
    assert!(b.url().unwrap().ends_with("/admin/devices"));
    let session = b
        .cookies()
        .unwrap()
        .into_iter()
        .find(|c| c.name == "rong_session")
        .expect("session cookie");
    assert!(session.http_only, "session cookie is HttpOnly");
    assert_eq!(session.same_site.as_deref(), Some("Strict"));
    assert!(b.text_of("#who").unwrap().contains("ana"));

    // The device is online; it goes offline when its agent is killed, and online again
    // when it restarts, on the same page (a marker set in the page survives: no reload).
    b.wait_until("the kiosk online", T, |b| {
        Ok((row_state(b, "kontum-kiosk-1")?.as_deref() == Some("online")).then_some(()))
    })
    .unwrap();
    shoot(&b, "devices");
    b.execute("window.__noReload = 42;", vec![]).unwrap();
    agent.kill9();
    b.wait_until("the kiosk offline (live)", T, |b| {
        Ok((row_state(b, "kontum-kiosk-1")?.as_deref() == Some("offline")).then_some(()))
    })
    .unwrap();
    // Keep it down until the alert evaluator has raised its "offline" alert.
    let cookie = format!("rong_session={}", session.value);
    rong_tests::wait_until("the offline alert", T, || {
        request_full(
            s.central.http,
            "GET",
            "/admin/alerts",
            &[("Cookie", &cookie)],
            None,
        )
        .map(|r| {
            r.text()
                .contains("data-kind=\"offline\" data-device=\"kontum-kiosk-1\"")
        })
        .unwrap_or(false)
    });
    agent.start();
    b.wait_until("the kiosk online again (live)", T, |b| {
        Ok((row_state(b, "kontum-kiosk-1")?.as_deref() == Some("online")).then_some(()))
    })
    .unwrap();
    assert_eq!(
        b.execute("return window.__noReload;", vec![]).unwrap(),
        42,
        "the page was not reloaded"
    );
    // Filters: by state and branch.
    b.navigate(&format!("{base}/admin/devices?state=offline"))
        .unwrap();
    assert!(b.find_all("#dev-kontum-kiosk-1").unwrap().is_empty());
    b.navigate(&format!("{base}/admin/devices?branch=kontum&state=online"))
        .unwrap();
    assert_eq!(b.find_all("#dev-kontum-kiosk-1").unwrap().len(), 1);

    // Device detail: "sync now" and its reply.
    b.navigate(&format!("{base}/admin/devices/kontum-kiosk-1"))
        .unwrap();
    b.click(&b.wait_for("#cmd-sync", T).unwrap()).unwrap();
    let reply = b
        .wait_until("the reply to sync now", T, |b| {
            let rows = b.find_all("#commands tr[data-replied=\"true\"] .reply-msg")?;
            match rows.first() {
                Some(r) => Ok(Some(b.text(r)?)),
                None => Ok(None),
            }
        })
        .unwrap();
    assert!(!reply.is_empty(), "the agent's reply message is shown");
    assert!(b.text_of("#commands").unwrap().contains("Đồng bộ ngay"));
    b.wait_until("the timeline to show the outage", T, |b| {
        let t = b.text_of("#timeline")?;
        Ok((t.contains("Mất kết nối") && t.contains("Trực tuyến")).then_some(()))
    })
    .unwrap();
    shoot(&b, "device");

    // The outage raised an "offline" alert: acknowledge it, and see who and when.
    b.navigate(&format!("{base}/admin/alerts")).unwrap();
    let ack = b
        .wait_until("the offline alert", T, |b| {
            b.navigate(&format!("{base}/admin/alerts"))?;
            Ok(
                b.find_all("tr[data-kind=\"offline\"][data-device=\"kontum-kiosk-1\"] button")?
                    .into_iter()
                    .next(),
            )
        })
        .unwrap();
    shoot(&b, "alerts");
    b.click(&ack).unwrap();
    let handled = b.wait_for("#handled tr[id^=\"acked-alert-\"]", T).unwrap();
    let text = b.text(&handled).unwrap();
    assert!(text.contains("ana"), "{text}");
    // The notice from the unknown return is listed too; acknowledge it as well.
    b.click(
        &b.find("#open-notices tr[data-kind=\"unknown_item\"] button")
            .expect("the unknown-item notice"),
    )
    .unwrap();
    let acked = b.wait_for("#handled tr[id^=\"acked-notice-\"]", T).unwrap();
    assert!(b.text(&acked).unwrap().contains("ana"));
    shoot(&b, "alerts-acknowledged");
    assert!(
        text.contains(&chrono::Utc::now().format("%Y").to_string()),
        "{text}"
    );

    // Statistics: the CSV the page links to counts exactly what happened here.
    b.navigate(&format!("{base}/admin/stats")).unwrap();
    assert_eq!(b.text_of("#total-loans .n").unwrap(), "3");
    let href = b
        .attribute(&b.find("#csv").unwrap(), "href")
        .unwrap()
        .unwrap();
    let (status, csv) = b.fetch_text(&href).unwrap();
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("period,branch,loans,returns,renewals,visits")
    );
    let mut sums = [0u64; 4];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[1], "kontum", "{l}");
        for i in 0..4 {
            sums[i] += f[2 + i].parse::<u64>().unwrap();
        }
    }
    assert_eq!(sums, [3, 2, 1, 2], "loans, returns, renewals, visits");
    shoot(&b, "stats");
    b.navigate(&format!("{base}/admin/report")).unwrap();
    assert!(
        b.text_of("#report-total").unwrap().contains('6'),
        "circulation 3+2+1"
    );
    shoot(&b, "report");
    // English.
    b.click(&b.find("#lang").unwrap()).unwrap();
    b.wait_until("English", T, |b| {
        Ok(b.text_of("#nav-devices")?.contains("Devices").then_some(()))
    })
    .unwrap();
    b.navigate(&format!("{base}/admin/devices")).unwrap();
    assert!(b.text_of("#fleet").unwrap().contains("Online"));
    shoot(&b, "devices-en");
}

/// Logs `user` in; the session cookie is for HTTP only and this site only.
fn login(addr: SocketAddr, user: &str) -> Session {
    let r = try_login(addr, user, PASSWORD);
    let raw = r
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("rong_session="))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no session cookie for {user}: {}", r.text()));
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    Session::from_login(addr, &r)
}

#[test]
fn dashboard_security() {
    let s = with_admin_ana("[dashboard]\nlogin_max_failures = 3\nlogin_window_secs = 600\n");
    s.central.admin_create("bo", PASSWORD, Some("dakto"));
    let _k = s.agent("kontum-kiosk-1", "kontum");
    let _d = s.agent("dakto-kiosk-1", "dakto");
    let addr = s.central.http;

    // No session: to the login page.
    let r = request_full(addr, "GET", "/admin/devices", &[], None).unwrap();
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/admin/login"));

    // A login form without its CSRF token is refused.
    let body = form(&[("user", "ana"), ("password", PASSWORD)]);
    let r = request_full(
        addr,
        "POST",
        "/admin/login",
        &[],
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    )
    .unwrap();
    assert_eq!(r.status, 403);

    // A command form without (or with a wrong) CSRF token is refused; with it, it goes.
    let ana = login(addr, "ana");
    let path = "/admin/devices/kontum-kiosk-1/commands";
    assert_eq!(ana.post(path, "kind=sync_now").status, 403);
    assert_eq!(ana.post(path, "kind=sync_now&csrf=forged").status, 403);
    let csrf = ana.csrf();
    let r = ana.post(path, &form(&[("kind", "sync_now"), ("csrf", &csrf)]));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        ana.post("/admin/logout", "").status,
        403,
        "logout needs the token too"
    );

    // Branch staff: their branch only.
    let bo = login(addr, "bo");
    let list = bo.get("/admin/devices");
    assert_eq!(list.status, 200);
    assert!(list.text().contains("dev-dakto-kiosk-1"));
    assert!(!list.text().contains("dev-kontum-kiosk-1"));
    assert_eq!(bo.get("/admin/devices/dakto-kiosk-1").status, 200);
    assert_eq!(bo.get("/admin/devices/kontum-kiosk-1").status, 403);
    assert_eq!(bo.get("/admin/devices/kontum-kiosk-1/live").status, 403);
    assert_eq!(bo.get("/admin/devices?branch=kontum").status, 403);
    assert_eq!(bo.get("/admin/stats?branch=kontum").status, 403);
    assert_eq!(bo.get("/admin/stats.csv?branch=kontum").status, 403);
    assert_eq!(bo.get("/admin/stats.csv").status, 200);
    let bo_csrf = bo.csrf();
    assert_eq!(
        bo.post(path, &form(&[("kind", "sync_now"), ("csrf", &bo_csrf)]))
            .status,
        403
    );
    // The admin sees both.
    let all = ana.get("/admin/devices").text();
    assert!(all.contains("dev-dakto-kiosk-1") && all.contains("dev-kontum-kiosk-1"));

    // An expired session goes back to the login page.
    {
        let db = rusqlite::Connection::open(s.central.db_path()).unwrap();
        db.busy_timeout(Duration::from_secs(10)).unwrap();
        db.execute(
            "UPDATE admin_sessions SET expires_at = 0 WHERE user = 'ana'",
            [],
        )
        .unwrap();
    }
    let r = ana.get("/admin/devices");
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with("/admin/login") && to.contains("expired=1"),
        "{to}"
    );
    let login = request_full(addr, "GET", to, &[], None).unwrap();
    assert!(
        login.text().contains("hết hạn"),
        "the page says the session expired"
    );
    assert_eq!(
        bo.get("/admin/devices").status,
        200,
        "other sessions live on"
    );

    // /metrics and /healthz.
    let m = request_full(addr, "GET", "/metrics", &[], None)
        .expect("HTTP request")
        .text();
    assert!(m.contains("rong_devices{state=\"stale\"}"), "{m}");
    assert!(m.contains("rong_ingest_lag_seconds"));
    assert!(m.contains("rong_http_request_duration_seconds_bucket{route=\"/admin/devices\""));
    assert_eq!(
        request_full(addr, "GET", "/healthz", &[], None)
            .expect("HTTP request")
            .status,
        200
    );

    // Read-only staff: their branch, no command or acknowledge forms, and changes refused.
    s.central
        .user_create("cu", PASSWORD, "readonly", Some("dakto"));
    let cu = crate::login(addr, "cu");
    let page = cu.get("/admin/devices/dakto-kiosk-1");
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("/commands"), "no command forms");
    assert_eq!(cu.get("/admin/devices/kontum-kiosk-1").status, 403);
    let cu_csrf = cu.csrf();
    let dakto_path = "/admin/devices/dakto-kiosk-1/commands";
    let r = cu.post(
        dakto_path,
        &form(&[("kind", "sync_now"), ("csrf", &cu_csrf)]),
    );
    assert_eq!(r.status, 403);
    // The audit log: the administrator sees every login and the command; Đăk Tô's staff
    // only their branch's rows.
    let audit = crate::login(addr, "ana").get("/admin/audit?lang=en").text();
    assert!(
        audit.contains("Audit log") && audit.contains("device.command"),
        "{audit}"
    );
    assert!(audit.contains(">cu<") && audit.contains(">bo<"), "{audit}");
    let theirs = cu.get("/admin/audit").text();
    assert!(
        theirs.contains(">cu<") && !theirs.contains("device.command"),
        "{theirs}"
    );

    // Wrong passwords are rate limited: after 3 failures even the right one is refused.
    for i in 0..3 {
        assert_eq!(
            try_login(addr, "ana", "wrong password").status,
            401,
            "try {i}"
        );
    }
    let r = try_login(addr, "ana", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("Quá nhiều lần thử"));
}
