//! The dashboard's login: the form (with a CSRF token in its own cookie), the password
//! check (rate limited, argon2 work bounded, a missing user as costly as a wrong password),
//! and the session it starts, which the first-run setup starts too.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{auth, cookie_of, html, html_response, lang_of, now_ms, Lang, WebError, WebState};
use central_store::admin::{self, Role};
use central_store::audit::Entry;

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/admin") && !n.starts_with("//"))
        .unwrap_or("/admin/devices")
        .to_owned()
}

fn login_html(lang: Lang, csrf: &str, next: &str, msg: Option<&str>) -> String {
    let body = format!(
        "<div class=\"card login\"><h1>{}</h1>{}\
         <form method=\"post\" action=\"/admin/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>{}<br><input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>\
         <label>{}<br><input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label>\
         <button id=\"login\">{}</button></form></div>",
        lang.t("login"),
        msg.map(|m| format!("<p class=\"err\" id=\"login-error\">{}</p>", html::esc(m)))
            .unwrap_or_default(),
        html::esc(csrf),
        html::esc(next),
        lang.t("user"),
        lang.t("password"),
        lang.t("login"),
    );
    html::page(lang, lang.t("login"), "", None, &body)
}

fn login_response(status: StatusCode, lang: Lang, next: &str, msg: Option<&str>) -> Response {
    let csrf = auth::random_token();
    let mut r = (status, html_response(login_html(lang, &csrf, next, msg))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}={csrf}; Path=/admin/login; HttpOnly; SameSite=Strict",
        auth::LOGIN_CSRF_COOKIE
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /admin/login`: the login form.
pub async fn login_page(headers: HeaderMap, uri: Uri, Query(q): Query<LoginQuery>) -> Response {
    let lang = lang_of(&headers, &uri);
    let msg = q.expired.is_some().then(|| lang.t("expired"));
    login_response(StatusCode::OK, lang, &safe_next(q.next.as_deref()), msg)
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /admin/login`: checks the password, rate limited, and starts a session.
pub async fn login(
    State(st): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    let lang = lang_of(&headers, &uri);
    let next = safe_next(f.next.as_deref());
    if !form_token_matches(&headers, auth::LOGIN_CSRF_COOKIE, f.csrf.as_deref()) {
        tracing::warn!(peer = %peer, "login form without a valid CSRF token refused");
        return Err(WebError::Forbidden(lang));
    }
    let keys = [format!("user:{}", f.user), format!("ip:{}", peer.ip())];
    let refuse = |status, why| Ok(login_response(status, lang, &next, Some(lang.t(why))));
    let Some(attempt) = st.ctx.limiter.take(&keys, Instant::now()) else {
        tracing::warn!(user = %f.user, peer = %peer, "login rate limited");
        return refuse(StatusCode::TOO_MANY_REQUESTS, "too_many");
    };
    let name = f.user.clone();
    let user = st.reads.run(move |c| admin::user(c, &name)).await?;
    let password = f.password;
    let ctx = st.ctx.clone();
    let ok_user = st
        .ctx
        .hash_work
        .run(move || {
            // Verify against a dummy hash when the user does not exist, so both cost the same.
            let phc = user
                .as_ref()
                .map(|u| u.password_hash.as_str())
                .unwrap_or(&ctx.dummy_hash);
            let ok = auth::verify_password(&password, phc);
            user.filter(|_| ok)
        })
        .await
        .map_err(WebError::Internal)?;
    let Some(user) = ok_user else {
        // The attempt, dropped, stays counted as a failure.
        drop(attempt);
        tracing::warn!(user = %f.user, peer = %peer, "failed login");
        // The name as typed, bounded: it is not a known user's.
        let tried: String = f.user.chars().take(64).collect();
        let entry = Entry::new(tried, "login.failed", "").peer(Some(peer.ip().to_string()));
        let _ = st.writer.audit(entry).await;
        return refuse(StatusCode::UNAUTHORIZED, "bad_login");
    };
    attempt.succeeded();
    start_session(
        &st,
        &user.name,
        user.role,
        user.branch.as_deref(),
        peer,
        &next,
    )
    .await
}

/// Starts a session for `user` and sends them to `next`, with the session cookie.
pub(crate) async fn start_session(
    st: &WebState,
    user: &str,
    role: Role,
    branch: Option<&str>,
    peer: SocketAddr,
    next: &str,
) -> Result<Response, WebError> {
    let token = auth::random_token();
    let csrf = auth::random_token();
    let hash = auth::token_hash(&token);
    let now = now_ms();
    let ttl = st.ctx.dashboard.session_secs as i64 * 1000;
    let name = user.to_owned();
    st.writer
        .run(move |s| s.create_session(&hash, &name, &csrf, now, now + ttl))
        .await?;
    tracing::info!(user = %user, role = role.as_str(), "logged in");
    let entry = Entry::new(user, "login", "")
        .role(role.as_str())
        .branch(branch)
        .peer(Some(peer.ip().to_string()));
    let _ = st.writer.audit(entry).await;
    let mut r = Redirect::to(next).into_response();
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        auth::SESSION_COOKIE,
        st.ctx.dashboard.session_secs,
        if st.ctx.dashboard.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Whether a form sent without a session (login, first-run setup) carries the CSRF token
/// its page set in cookie `cookie`.
pub(crate) fn form_token_matches(headers: &HeaderMap, cookie: &str, token: Option<&str>) -> bool {
    let expected = cookie_of(headers, cookie).unwrap_or_default();
    token.is_some_and(|t| auth::same_token(t, expected))
}

/// The argon2id hash of a new password, under the permits that bound argon2 work.
pub(crate) async fn hash_new_password(st: &WebState, password: &str) -> Result<String, WebError> {
    let password = password.to_owned();
    st.ctx
        .hash_work
        .run(move || auth::hash_password(&password))
        .await
        .map_err(WebError::Internal)?
        .map_err(|e| WebError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next(Some("/admin/alerts")), "/admin/alerts");
        assert_eq!(safe_next(Some("https://evil.example/")), "/admin/devices");
        assert_eq!(safe_next(Some("//evil.example/admin")), "/admin/devices");
        assert_eq!(safe_next(None), "/admin/devices");
    }
}
