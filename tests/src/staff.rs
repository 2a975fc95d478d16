//! A member of staff on central's dashboard over HTTP: the login with its CSRF token, then
//! pages and forms with the session cookie.

use std::net::SocketAddr;

use crate::http::{form, request_full, FullReply};

/// The value of the hidden form field `name` in an HTML page.
pub fn hidden_field(body: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let rest = &body[body.find(&key)? + key.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Tries to log in (the login page for its CSRF token and cookie, then the form); returns
/// the reply to the form.
pub fn try_login(addr: SocketAddr, user: &str, password: &str) -> FullReply {
    let page =
        request_full(addr, "GET", "/admin/login", &[], None).expect("HTTP request to central");
    let csrf = hidden_field(&page.text(), "csrf").expect("csrf field");
    let cookie = page.cookie("rong_login_csrf").expect("login csrf cookie");
    let body = form(&[("user", user), ("password", password), ("csrf", &csrf)]);
    request_full(
        addr,
        "POST",
        "/admin/login",
        &[("Cookie", &format!("rong_login_csrf={cookie}"))],
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    )
    .expect("HTTP request to central")
}

/// A logged-in member of staff.
#[derive(Debug, Clone)]
pub struct Session {
    addr: SocketAddr,
    /// The session cookie's value.
    pub cookie: String,
}

impl Session {
    /// Logs in; panics unless central lets them in.
    pub fn login(addr: SocketAddr, user: &str, password: &str) -> Session {
        Self::from_login(addr, &try_login(addr, user, password))
    }

    /// The session a successful login's reply opened; panics when it did not open one.
    pub fn from_login(addr: SocketAddr, reply: &FullReply) -> Session {
        assert_eq!(reply.status, 303, "login refused: {}", reply.text());
        Session {
            addr,
            cookie: reply.cookie("rong_session").expect("session cookie"),
        }
    }

    fn cookie_header(&self) -> String {
        format!("rong_session={}", self.cookie)
    }

    /// GET a page.
    pub fn get(&self, path: &str) -> FullReply {
        request_full(
            self.addr,
            "GET",
            path,
            &[("Cookie", &self.cookie_header())],
            None,
        )
        .expect("HTTP request to central")
    }

    /// POST a form body (see [`form`]).
    pub fn post(&self, path: &str, body: &str) -> FullReply {
        request_full(
            self.addr,
            "POST",
            path,
            &[("Cookie", &self.cookie_header())],
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
        )
        .expect("HTTP request to central")
    }

    /// The CSRF token of this session's forms.
    pub fn csrf(&self) -> String {
        hidden_field(&self.get("/admin/devices").text(), "csrf").expect("csrf in page")
    }
}
