//! Who may call the staff JSON API and the operator's routes: the `route_layer`s that
//! [`crate::routes`] puts on those groups, and the caller's identity they hand to the
//! handlers.
//!
//! Staff: `Authorization: Bearer <token>` (an API token from `central token create`), or
//! the dashboard's session cookie, whose changes must carry the session's CSRF token in
//! `X-CSRF-Token`. Operator (`/metrics`, the OpenAPI document): the configured operator
//! token or any administrator's API token; with no operator token configured, loopback
//! peers need none.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};
use central_store::admin::{self, Access, Role};
use central_store::audit::Entry;
use central_store::tokens;

/// A token's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// The last-use map forgets everything past this many tokens (it only saves writes).
const TOUCH_MAP_MAX: usize = 10_000;
/// The header a cookie-authenticated change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authentication state shared by the guards.
pub struct Guards {
    /// The BLAKE2b hash of the operator token, when one is configured.
    operator_hash: Option<String>,
    /// When each token's last use was written.
    touched: Mutex<HashMap<i64, Instant>>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field(
                "operator_token",
                &self.operator_hash.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl Guards {
    /// Guards with this operator token (none: operator routes answer loopback only).
    pub fn new(operator_token: Option<&str>) -> Guards {
        Guards {
            operator_hash: operator_token.map(central_web::token_hash),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Whether token `id`'s use at `now` should be written (at most once per minute).
    fn due_for_touch(&self, id: i64, now: Instant) -> bool {
        let Ok(mut t) = self.touched.lock() else {
            return false;
        };
        if t.get(&id)
            .is_some_and(|last| now.duration_since(*last) < TOUCH_EVERY)
        {
            return false;
        }
        if t.len() >= TOUCH_MAP_MAX {
            t.clear();
        }
        t.insert(id, now);
        true
    }
}

/// The authenticated caller of a staff JSON route, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Staff {
    /// A user's name, or `token:<label>`.
    pub name: String,
    /// What it may see and do.
    pub access: Access,
    /// The client's address.
    pub peer: IpAddr,
}

impl Staff {
    /// 403 unless the caller may see data of `branch`.
    pub fn see(&self, branch: Option<&str>) -> Result<(), ApiError> {
        if self.access.may_see(branch) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("another branch's data".into()))
        }
    }

    /// 403 for a read-only caller.
    pub fn change(&self) -> Result<(), ApiError> {
        if self.access.may_change() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("read-only credentials".into()))
        }
    }

    /// 403 unless the caller may lend and manage readers.
    pub fn lend(&self) -> Result<(), ApiError> {
        if self.access.may_lend() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "these credentials may not manage readers".into(),
            ))
        }
    }

    /// The branch a list is filtered to: none for administrators (every branch).
    pub fn scope(&self) -> Option<String> {
        match self.access.role {
            Role::Admin => None,
            _ => self.access.branch.clone(),
        }
    }

    /// 403 unless the caller sees every branch (fleet-wide figures).
    pub fn every_branch(&self) -> Result<(), ApiError> {
        match self.access.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden(
                "fleet-wide data is for administrators".into(),
            )),
        }
    }

    /// An audit entry for `action` on `target` by this caller.
    pub fn entry(&self, action: &str, target: impl Into<String>) -> Entry {
        Entry::new(&self.name, action, target)
            .role(self.access.role.as_str())
            .peer(Some(self.peer.to_string()))
    }
}

/// The bearer token of a request, if it sent one (`Authorization: Bearer <token>`).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A valid API token's caller, and the token's id.
async fn token_caller(
    st: &ApiState,
    token: &str,
    peer: IpAddr,
) -> Result<Option<(Staff, i64)>, ApiError> {
    let hash = central_web::token_hash(token);
    let row = st
        .reads
        .run(move |c| tokens::valid(c, &hash, now_ms()))
        .await?;
    Ok(row.map(|t| {
        let staff = Staff {
            name: format!("token:{}", t.label),
            access: Access {
                role: t.role,
                branch: t.branch,
            },
            peer,
        };
        (staff, t.id)
    }))
}

/// Records a token's use, at most once a minute, without waiting for the write.
async fn touch(st: &ApiState, id: i64) {
    if st.guards.due_for_touch(id, Instant::now()) {
        let now = now_ms();
        let sent = st
            .writer
            .send(move |s| {
                if let Err(e) = s.touch_token(id, now) {
                    tracing::warn!(error = %e, token = id, "cannot record a token's use");
                }
            })
            .await;
        if sent.is_err() {
            tracing::debug!("writer gone; a token's use is not recorded");
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized(
        "an API token (Authorization: Bearer) or a dashboard session is required".into(),
    )
}

/// Who is calling a staff JSON route, or why not: 401 without valid credentials, 403 for
/// a cookie-authenticated change without the session's CSRF token.
async fn authenticate(
    st: &ApiState,
    headers: &HeaderMap,
    method: &Method,
    peer: IpAddr,
) -> Result<Staff, ApiError> {
    if let Some(token) = bearer(headers) {
        let Some((staff, id)) = token_caller(st, token, peer).await? else {
            tracing::warn!(peer = %peer, "unknown, revoked or expired API token");
            return Err(unauthorized());
        };
        touch(st, id).await;
        return Ok(staff);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| central_web::cookie(h, central_web::SESSION_COOKIE))
        .filter(|t| !t.is_empty());
    let Some(cookie) = cookie else {
        return Err(unauthorized());
    };
    let hash = central_web::token_hash(cookie);
    let Some(session) = st
        .reads
        .run(move |c| admin::session(c, &hash, now_ms()))
        .await?
    else {
        return Err(unauthorized());
    };
    // A cookie rides along with any request the browser makes: a change must prove it
    // came from the dashboard's own page.
    if !matches!(*method, Method::GET | Method::HEAD) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|t| central_web::same_token(t, &session.csrf)) {
            tracing::warn!(user = %session.user, peer = %peer, "API change without the session's CSRF token");
            return Err(ApiError::Forbidden(format!(
                "a change with the session cookie needs the session's CSRF token in {CSRF_HEADER}"
            )));
        }
    }
    Ok(Staff {
        name: session.user,
        access: Access {
            role: session.role,
            branch: session.branch,
        },
        peer,
    })
}

/// The staff JSON API's `route_layer`: puts the [`Staff`] caller in the request's
/// extensions, or answers 401 / 403.
pub async fn staff(
    State(st): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&st, req.headers(), req.method(), peer.ip()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Whether a request without a token may reach an operator route: only when no operator
/// token is configured, and only from loopback. A reverse proxy on the same host makes
/// every request loopback: configure a token behind one.
pub fn loopback_allowed(token_configured: bool, peer: IpAddr) -> bool {
    !token_configured && peer.to_canonical().is_loopback()
}

/// Whether `token` opens the operator routes: the operator token, or an administrator's
/// API token.
async fn operator_token(st: &ApiState, token: &str, peer: IpAddr) -> Result<bool, ApiError> {
    if let Some(want) = &st.guards.operator_hash {
        if central_web::same_token(&central_web::token_hash(token), want) {
            return Ok(true);
        }
    }
    Ok(match token_caller(st, token, peer).await? {
        Some((caller, id)) if caller.access.role == Role::Admin => {
            touch(st, id).await;
            true
        }
        _ => false,
    })
}

/// The operator routes' `route_layer` (`/metrics`, `/api/v1/openapi.json`).
pub async fn operator(
    State(st): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let allowed = match bearer(req.headers()) {
        Some(token) => operator_token(&st, token, peer.ip()).await,
        None => Ok(loopback_allowed(
            st.guards.operator_hash.is_some(),
            peer.ip(),
        )),
    };
    match allowed {
        Ok(true) => next.run(req).await,
        Ok(false) => ApiError::Unauthorized(
            "the operator token (Authorization: Bearer), or a request from loopback when none is configured"
                .into(),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_enough_only_without_a_token() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let local6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(loopback_allowed(false, local));
        assert!(loopback_allowed(false, local6));
        assert!(loopback_allowed(false, mapped));
        assert!(!loopback_allowed(false, remote));
        assert!(
            !loopback_allowed(true, local),
            "a configured token is always needed"
        );
        assert!(!loopback_allowed(true, remote));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer rong_abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("rong_abc"));
        h.insert(header::AUTHORIZATION, "bearer  rong_abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("rong_abc"));
        h.insert(header::AUTHORIZATION, "Basic eDp5".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn a_token_use_is_written_once_a_minute() {
        let g = Guards::new(Some("op"));
        let t0 = Instant::now();
        assert!(g.due_for_touch(1, t0));
        assert!(!g.due_for_touch(1, t0 + Duration::from_secs(30)));
        assert!(g.due_for_touch(2, t0));
        assert!(g.due_for_touch(1, t0 + Duration::from_secs(61)));
        assert!(!format!("{g:?}").contains(&central_web::token_hash("op")));
    }
}
