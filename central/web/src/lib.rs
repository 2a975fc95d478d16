//! Central's web pages: the fleet dashboard under `/admin`, the public catalogue under
//! `/opac` with the document viewer, and apart from the pages the alert rules
//! ([`rules`]). Every page is rendered through [`html`].
//!
//! The dashboard: server-side HTML (escaped by hand), one embedded
//! stylesheet and one small script for live updates (server-sent events), charts drawn as
//! SVG on the server. Vietnamese first, English by `?lang=en` or the language switch.
//!
//! Login uses argon2id password hashes and server-side sessions stored in SQLite (the
//! cookie holds a random token, the database its hash). Every form POST carries a CSRF
//! token. Branch staff see only their own branch: anything else answers 403.

pub mod alerts;
pub mod audit;
mod auth;
pub mod calendar;
pub mod catalogue_import;
pub use auth::HashWork;
pub mod config;
pub mod desk;
pub mod desk_print;
pub mod devices;
pub mod digitise;
pub mod enrolment;
pub mod html;
pub mod i18n;
pub mod lists;
pub mod login;
pub mod network;
pub mod opac;
pub mod readers;
pub mod readers_import;
pub mod rules;
pub mod rules_page;
pub mod staff;
pub mod stats;
mod svg;
#[cfg(test)]
mod testkit;
pub mod viewer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::config::{AlertsConfig, DashboardConfig};
use central_store::admin::{self, Access, Role};
use central_store::audit::Entry;
use central_store::{Reads, StoreError, Writer};
use rong_protocol::ids::DeviceId;
use rong_protocol::status::CommandKind;

pub use auth::{cookie, hash_password, random_token, same_token, token_hash, SESSION_COOKIE};
use html::Viewer;
use i18n::Lang;

/// What the dashboard needs besides the app state.
#[derive(Debug)]
pub struct WebCtx {
    /// Dashboard settings.
    pub dashboard: DashboardConfig,
    /// Alert thresholds.
    pub alerts: AlertsConfig,
    /// The library's offset from UTC, in minutes.
    pub utc_offset_min: i32,
    limiter: auth::Limiter,
    /// Bounds the argon2 verifications running at once.
    hash_work: auth::HashWork,
    /// Checked when the user does not exist, so that costs as much as a wrong password.
    dummy_hash: String,
    /// The code the first-run setup at `/setup` asks for, while central is not set up.
    setup_code: Option<String>,
}

impl WebCtx {
    /// A context from the configuration.
    pub fn new(dashboard: DashboardConfig, alerts: AlertsConfig, utc_offset_min: i32) -> WebCtx {
        let limiter = auth::Limiter::new(
            dashboard.login_max_failures,
            Duration::from_secs(dashboard.login_window_secs),
        );
        let hash_work = auth::HashWork::new(dashboard.password_hash_concurrency);
        WebCtx {
            dashboard,
            alerts,
            utc_offset_min,
            limiter,
            hash_work,
            dummy_hash: auth::hash_password(&auth::random_token()).unwrap_or_default(),
            setup_code: None,
        }
    }

    /// The same context, with the code `/setup` asks for (central is not set up yet).
    pub fn with_setup_code(mut self, code: Option<String>) -> WebCtx {
        self.setup_code = code;
        self
    }
}

/// Sends a command to a device: central records it and publishes it over MQTT (the
/// server's writer job, which this crate does not know).
pub trait Commands: std::fmt::Debug + Send + Sync {
    /// Records and sends `kind` to `device`; returns the command's correlation id.
    fn send(
        &self,
        device: DeviceId,
        kind: CommandKind,
    ) -> BoxFuture<'_, Result<String, StoreError>>;
}

/// A one-time enrolment code just made, as the dashboard shows it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrolmentCode {
    /// The code as people type it (`RONG-XXXXX-...`).
    pub code: String,
    /// The same code as a QR code, an SVG document.
    pub qr_svg: String,
    /// The device id it enrols, when one was named.
    pub device: Option<String>,
    /// When it expires (ms).
    pub expires_at: i64,
}

/// Device identity actions that need central's keys and writer jobs (the server's, which
/// this crate does not know): enrolment codes, revocation, and decisions on quarantined
/// events.
pub trait DeviceAdmin: std::fmt::Debug + Send + Sync {
    /// Makes a one-time code for a `role` (`kiosk` or `station`) of `branch`, valid
    /// `hours`, made by `by`.
    fn enrolment_code(
        &self,
        branch: String,
        role: String,
        device: Option<String>,
        hours: u32,
        by: String,
    ) -> BoxFuture<'_, Result<NewEnrolmentCode, StoreError>>;

    /// Revokes `device` at once.
    fn revoke(&self, device: DeviceId, by: String) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Accepts (applies) or discards quarantined batch `id`.
    fn decide(&self, id: i64, accept: bool, by: String) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// Changes to the network's set-up that reach the devices by delta (the server's writer
/// jobs, which publish them).
pub trait NetworkAdmin: std::fmt::Debug + Send + Sync {
    /// Adds (`create`) or changes a branch.
    fn save_branch(
        &self,
        branch: central_store::network::BranchDetails,
        create: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Registers (`create`) or changes a reader, with a new PIN hash when given.
    fn save_reader(
        &self,
        reader: central_store::readers::Reader,
        pin_hash: Option<String>,
        create: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Extends a reader's membership to `until`.
    fn renew_membership(
        &self,
        card: String,
        until: chrono::NaiveDate,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Adds (`create`) or changes a reader category.
    fn save_category(
        &self,
        row: central_store::rules::CategoryRow,
        create: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Makes the loan-rule matrix exactly `rules`.
    fn save_matrix(
        &self,
        rules: Vec<rong_protocol::delta::LoanRule>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Closes branches on these days (a day closed already takes the new reason).
    fn close_days(
        &self,
        days: Vec<rong_protocol::delta::ClosedDay>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Does a circulation desk act: a loan, a return or a renewal, by the kiosks' rules.
    fn desk(
        &self,
        at: central_store::desk::DeskAt,
        act: central_store::desk::DeskAct,
    ) -> BoxFuture<'_, Result<central_store::desk::DeskDone, StoreError>>;

    /// Opens `branch` again on `date`.
    fn open_day(
        &self,
        branch: rong_protocol::ids::BranchId,
        date: chrono::NaiveDate,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Sets up a fresh central: its first administrator, name and first branch.
    fn init(
        &self,
        admin: central_store::network::FirstAdmin,
        network: String,
        first: central_store::network::BranchDetails,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// What a catalogue import did, as the dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarcImportSummary {
    /// New records.
    pub imported: u64,
    /// Records replaced (same 001).
    pub updated: u64,
    /// Records left out, each with where and why.
    pub skipped: Vec<String>,
    /// Why the file could not be read at all, if it could not.
    pub unreadable: Option<String>,
}

/// Imports MARC files (the catalogue crate's import, run by the server's writer).
pub trait CatalogueAdmin: std::fmt::Debug + Send + Sync {
    /// Imports one uploaded file of MARC21 records (ISO 2709 or MARCXML).
    fn import_marc(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<MarcImportSummary, StoreError>>;
}

/// A boxed future, as [`Commands::send`] returns it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// State of the dashboard's handlers.
#[derive(Debug, Clone)]
pub struct WebState {
    reads: Reads,
    writer: Writer,
    commands: Arc<dyn Commands>,
    device_admin: Arc<dyn DeviceAdmin>,
    network: Arc<dyn NetworkAdmin>,
    catalogue: Arc<dyn CatalogueAdmin>,
    ctx: Arc<WebCtx>,
}

impl WebState {
    /// The dashboard over the store's handles, sending device commands through `commands`,
    /// enrolment, revocation and quarantine decisions through `device_admin`, and the
    /// network's set-up through `network`.
    pub fn new(
        reads: Reads,
        writer: Writer,
        commands: Arc<dyn Commands>,
        device_admin: Arc<dyn DeviceAdmin>,
        network: Arc<dyn NetworkAdmin>,
        catalogue: Arc<dyn CatalogueAdmin>,
        ctx: WebCtx,
    ) -> WebState {
        WebState {
            reads,
            writer,
            commands,
            device_admin,
            network,
            catalogue,
            ctx: Arc::new(ctx),
        }
    }
}

/// `GET /`, `/admin` and `/admin/`: to the devices page.
pub async fn to_devices() -> Redirect {
    Redirect::to("/admin/devices")
}

/// Why a dashboard request failed; rendered as a page or a redirect.
#[derive(Debug)]
pub enum WebError {
    /// No valid session: to the login page.
    Login {
        /// Where to come back to.
        next: String,
        /// Whether a session cookie was sent but is no longer valid.
        expired: bool,
    },
    /// 403: CSRF failure, or another branch's data.
    Forbidden(Lang),
    /// 404.
    NotFound(Lang),
    /// 400.
    BadRequest(String),
    /// 503: central is shutting down.
    Unavailable,
    /// 500.
    Internal(String),
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => WebError::NotFound(Lang::Vi),
            StoreError::Conflict(m) | StoreError::TooLong(m) => WebError::BadRequest(m),
            StoreError::WriterGone => WebError::Unavailable,
            other => {
                tracing::error!(error = %other, "store error in dashboard handler");
                WebError::Internal(other.to_string())
            }
        }
    }
}

fn error_page(status: StatusCode, lang: Lang, msg: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"err\" id=\"error\">{}</p><p><a href=\"/admin/devices\">{}</a></p>",
        status.as_u16(),
        html::esc(msg),
        lang.t("back")
    );
    (
        status,
        axum::response::Html(html::page(lang, lang.t("error"), "", None, &body)),
    )
        .into_response()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Login { next, expired } => {
                let to = format!(
                    "/admin/login?next={}{}",
                    html::url_enc(&next),
                    if expired { "&expired=1" } else { "" }
                );
                let mut r = Redirect::to(&to).into_response();
                if expired {
                    r.headers_mut().append(
                        header::SET_COOKIE,
                        HeaderValue::from_static(
                            "rong_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                        ),
                    );
                }
                r
            }
            WebError::Forbidden(lang) => {
                error_page(StatusCode::FORBIDDEN, lang, lang.t("forbidden"))
            }
            WebError::NotFound(lang) => {
                error_page(StatusCode::NOT_FOUND, lang, lang.t("not_found"))
            }
            WebError::BadRequest(m) => error_page(StatusCode::BAD_REQUEST, Lang::Vi, &m),
            WebError::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Lang::Vi,
                "central is shutting down",
            ),
            WebError::Internal(m) => error_page(StatusCode::INTERNAL_SERVER_ERROR, Lang::Vi, &m),
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The language of a request: `?lang=` first, then the cookie, then Vietnamese.
fn lang_of(headers: &HeaderMap, uri: &Uri) -> Lang {
    if let Some(q) = uri.query() {
        for kv in q.split('&') {
            if let Some(v) = kv.strip_prefix("lang=") {
                return Lang::from_code(v);
            }
        }
    }
    cookie_of(headers, auth::LANG_COOKIE)
        .map(Lang::from_code)
        .unwrap_or(Lang::Vi)
}

fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie(h, name))
}

/// What a dashboard page handler answers.
type Page = Result<Response, WebError>;

/// A logged-in user, for one request; as an extractor, a request without a valid session
/// is sent to the login page.
#[derive(Debug, Clone)]
pub struct Session {
    user: String,
    role: Role,
    branch: Option<String>,
    csrf: String,
    lang: Lang,
    /// The hash of the session's token, for live streams to check it again.
    token_hash: String,
    /// The client's address, for the audit log.
    peer: Option<String>,
}

impl<S> FromRequestParts<S> for Session
where
    WebState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Session, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let mut s = session(&WebState::from_ref(state), &parts.headers, &parts.uri).await?;
        s.peer = peer;
        Ok(s)
    }
}

impl Session {
    fn viewer(&self) -> Viewer {
        Viewer {
            user: self.user.clone(),
            csrf: self.csrf.clone(),
            branch: self.branch.clone(),
            lends: self.access().may_lend(),
        }
    }

    /// A dashboard page for this user: `body` in the layout, `nav` marked in the menu.
    fn page(&self, title: &str, nav: &str, body: &str) -> Response {
        html_response(html::page(
            self.lang,
            title,
            nav,
            Some(&self.viewer()),
            body,
        ))
    }

    /// The `<option>`s of a branch filter: "all" for those who may see every branch, then
    /// the branches this user may see, `chosen` selected.
    fn branch_options(&self, branches: &[String], chosen: Option<&String>) -> String {
        let mut out = String::new();
        if self.branch.is_none() {
            out = format!("<option value=\"\">{}</option>", self.lang.t("all"));
        }
        let mine = |br: &&String| self.branch.is_none() || self.branch.as_ref() == Some(*br);
        for br in branches.iter().filter(mine) {
            let selected = if chosen == Some(br) { " selected" } else { "" };
            out.push_str(&format!("<option{selected}>{}</option>", html::esc(br)));
        }
        out
    }

    /// What this user may see and do.
    fn access(&self) -> Access {
        Access {
            role: self.role,
            branch: self.branch.clone(),
        }
    }

    /// The branch filter this user may use: staff always their own (another one is 403).
    fn scope(&self, asked: Option<&str>) -> Result<Option<String>, WebError> {
        self.access()
            .scope(asked)
            .map_err(|_| WebError::Forbidden(self.lang))
    }

    /// Whether this user may see data of `branch`.
    fn may_see(&self, branch: Option<&str>) -> Result<(), WebError> {
        if self.access().may_see(branch) {
            Ok(())
        } else {
            Err(WebError::Forbidden(self.lang))
        }
    }

    /// Checks a change's form: its CSRF token, and that this user may change anything.
    fn check_change(&self, token: Option<&str>) -> Result<(), WebError> {
        self.check_csrf(token)?;
        if self.access().may_change() {
            Ok(())
        } else {
            tracing::warn!(user = %self.user, "a read-only user's change refused");
            Err(WebError::Forbidden(self.lang))
        }
    }

    /// Checks a desk or reader form: its CSRF token, and that this user may lend and manage
    /// readers.
    fn check_lend(&self, token: Option<&str>) -> Result<(), WebError> {
        self.check_csrf(token)?;
        if self.access().may_lend() {
            Ok(())
        } else {
            tracing::warn!(user = %self.user, role = self.role.as_str(), "a lending change refused");
            Err(WebError::Forbidden(self.lang))
        }
    }

    /// An audit entry for `action` on `target` by this user, from this request's address.
    fn entry(&self, action: &str, target: impl Into<String>) -> Entry {
        Entry::new(&self.user, action, target)
            .role(self.role.as_str())
            .peer(self.peer.clone())
    }

    /// 403 unless this user is an administrator.
    fn admin_only(&self) -> Result<(), WebError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(WebError::Forbidden(self.lang))
        }
    }

    /// 403 unless this user is an administrator or a cataloguer: a catalogue import
    /// replaces records the whole network shares.
    fn cataloguer_only(&self) -> Result<(), WebError> {
        if matches!(self.role, Role::Admin | Role::Cataloguer) {
            Ok(())
        } else {
            Err(WebError::Forbidden(self.lang))
        }
    }

    /// Checks a form's CSRF token.
    fn check_csrf(&self, token: Option<&str>) -> Result<(), WebError> {
        if token.is_some_and(|t| auth::same_token(t, &self.csrf)) {
            Ok(())
        } else {
            tracing::warn!(user = %self.user, "form without a valid CSRF token refused");
            Err(WebError::Forbidden(self.lang))
        }
    }
}

/// The session of a request, or a redirect to the login page.
async fn session(st: &WebState, headers: &HeaderMap, uri: &Uri) -> Result<Session, WebError> {
    let lang = lang_of(headers, uri);
    let next = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/admin/devices".into());
    let Some(token) = cookie_of(headers, auth::SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Err(WebError::Login {
            next,
            expired: false,
        });
    };
    let token_hash = auth::token_hash(token);
    let hash = token_hash.clone();
    let row = st
        .reads
        .run(move |c| admin::session(c, &hash, now_ms()))
        .await?;
    match row {
        Some(s) => Ok(Session {
            user: s.user,
            role: s.role,
            branch: s.branch,
            csrf: s.csrf,
            lang,
            token_hash,
            peer: None,
        }),
        None => Err(WebError::Login {
            next,
            expired: true,
        }),
    }
}

/// Whether the request's session is still valid: live streams check it on every update,
/// so a logout or an expiry ends them.
async fn still_valid(st: &WebState, token_hash: &str) -> Result<(), WebError> {
    let hash = token_hash.to_owned();
    match st
        .reads
        .run(move |c| admin::session(c, &hash, now_ms()))
        .await?
    {
        Some(_) => Ok(()),
        None => Err(WebError::Login {
            next: String::new(),
            expired: true,
        }),
    }
}

/// `GET /admin/static/app.css`: the dashboard's stylesheet.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::CSS,
    )
}

/// `GET /admin/static/app.js`: the dashboard's script (live updates).
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::JS,
    )
}

fn html_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Query of `/admin/lang`.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    to: String,
}

/// Switches the language (a cookie) and goes back to the page it came from.
pub async fn set_lang(headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::from_code(&q.to);
    // Only a same-site path may be the way back.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/admin").map(|i| r[i..].to_owned()))
        .filter(|p| !p.contains("lang="))
        .unwrap_or_else(|| "/admin/devices".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}={}; Path=/; SameSite=Strict; Max-Age=31536000",
        auth::LANG_COOKIE,
        lang.code()
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The fields of a multipart form (file uploads), each at most `max` bytes.
async fn multipart_fields(
    mut m: axum::extract::Multipart,
    max: usize,
) -> Result<Vec<(String, Vec<u8>)>, WebError> {
    let mut out = Vec::new();
    while let Some(field) = m
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("not a form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| WebError::BadRequest(format!("not a form: {e}")))?;
        if bytes.len() > max {
            return Err(WebError::BadRequest(format!(
                "the file is larger than {} MiB",
                max / (1024 * 1024)
            )));
        }
        out.push((name, bytes.to_vec()));
    }
    Ok(out)
}

/// A form with only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /admin/logout`: ends the session.
pub async fn logout(
    State(st): State<WebState>,
    headers: HeaderMap,
    s: Session,
    Form(f): Form<CsrfForm>,
) -> Page {
    s.check_csrf(f.csrf.as_deref())?;
    if let Some(token) = cookie_of(&headers, auth::SESSION_COOKIE) {
        let hash = auth::token_hash(token);
        st.writer.run(move |s| s.delete_session(&hash)).await?;
    }
    let entry = s.entry("logout", "").branch(s.branch.as_deref());
    let _ = st.writer.audit(entry).await;
    let mut r = Redirect::to("/admin/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("rong_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_are_kept_to_their_branch() {
        let s = Session {
            user: "bo".into(),
            role: Role::Staff,
            branch: Some("dakto".into()),
            csrf: "c".into(),
            lang: Lang::Vi,
            token_hash: "h".into(),
            peer: None,
        };
        assert_eq!(s.scope(None).unwrap().as_deref(), Some("dakto"));
        assert_eq!(s.scope(Some("dakto")).unwrap().as_deref(), Some("dakto"));
        assert!(matches!(
            s.scope(Some("kontum")),
            Err(WebError::Forbidden(_))
        ));
        assert!(s.may_see(Some("dakto")).is_ok());
        assert!(s.may_see(Some("kontum")).is_err());
        assert!(s.may_see(None).is_err());
        assert!(s.check_csrf(Some("c")).is_ok());
        assert!(s.check_csrf(Some("d")).is_err());
        assert!(s.check_csrf(None).is_err());
        assert!(s.check_change(Some("c")).is_ok());
        let r = Session {
            role: Role::Readonly,
            ..s.clone()
        };
        assert_eq!(r.scope(None).unwrap().as_deref(), Some("dakto"));
        assert!(r.may_see(Some("kontum")).is_err());
        assert!(
            r.check_change(Some("c")).is_err(),
            "read-only changes nothing"
        );
        let a = Session {
            role: Role::Admin,
            branch: None,
            ..s
        };
        assert_eq!(a.scope(Some("kontum")).unwrap().as_deref(), Some("kontum"));
        assert_eq!(a.scope(Some("")).unwrap(), None);
        assert!(a.may_see(None).is_ok());
    }
}
