//! Device identity over HTTP: enrolment ([`enrol`], the `Enrolling` caller: no device
//! credentials yet, the one-time code is the credential) and [`device_auth`], the check the
//! `Device` group's `route_layer` runs before every device route.
//!
//! [`device_auth`] accepts a request whose `Authorization: Rong-Device ...` header
//! (`rong_identity::http_auth`) is signed by the key of an enrolled device, within five
//! minutes of central's clock, and puts the [`AuthedDevice`] in the request's extensions.
//! Otherwise: 401 (no, malformed or unknown credentials, bad signature, or a clock too far
//! off: then the JSON body carries central's time so the board can correct its offset),
//! or 403 for a revoked device.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rong_identity::http_auth::{SERVER_TIME_FIELD, SERVER_TIME_HEADER};
use rong_identity::{
    AuthError, AuthHeader, Certificate, EnrolRequest, EnrolResponse, EnrolmentCode, PublicKey, Role,
};

use super::guard::Staff;
use super::ApiError;
use central_store::audit::Entry;
use central_store::identity::{device_credentials, AuthedDevice, CodeRefused};
use central_store::{Reads, Writer};

/// Enrolment attempts one address may make in [`LIMIT_WINDOW`].
const LIMIT_PER_WINDOW: u32 = 10;
/// The rate limiter's window.
const LIMIT_WINDOW: Duration = Duration::from_secs(60);

/// What enrolment and the device check share.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// Read connections (device lookups).
    pub reads: Reads,
    /// The single writer (spending codes).
    pub writer: Writer,
    /// Central's public key, base64, handed to enrolling boards.
    pub central_public_key: String,
    /// Enrolment attempts per address.
    pub limiter: Arc<Limiter>,
    /// The broker's ACL, rewritten after each enrolment (when configured).
    pub acl: Option<Arc<crate::broker_acl::BrokerAcl>>,
    /// Central's CA: certifies each board's key at enrolment and renewal.
    pub ca: Arc<crate::tls::Ca>,
    /// How long a board's certificate is valid, in days.
    pub device_cert_days: u32,
}

impl DeviceAuth {
    /// A certificate for `device`'s enrolled `key`, with central's CA.
    fn certify(
        &self,
        device: &rong_protocol::DeviceId,
        branch: &str,
        key: &PublicKey,
    ) -> Result<Certificate, ApiError> {
        let issued = self
            .ca
            .issue_device(device, branch, key, self.device_cert_days)
            .map_err(|e| {
                tracing::error!(%device, error = %e, "cannot certify a device's key");
                ApiError::Internal("cannot make the device's certificate".into())
            })?;
        Ok(Certificate {
            certificate: issued.pem,
            ca: self.ca.cert_pem().to_owned(),
            expires_ms: issued.not_after_ms,
        })
    }
}

/// A fixed-window counter of attempts per address.
#[derive(Debug, Default)]
pub struct Limiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    /// Counts an attempt from `ip`; answers whether it is within the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < LIMIT_WINDOW);
        }
        let slot = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(slot.0) >= LIMIT_WINDOW {
            *slot = (now, 0);
        }
        slot.1 += 1;
        slot.1 <= LIMIT_PER_WINDOW
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `POST /api/v1/device/enrol`: spends a one-time code and registers the board's public
/// key; answers the board's identity and central's public key.
#[tracing::instrument(skip_all)]
pub async fn enrol(
    State(st): State<DeviceAuth>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Response {
    let ip = peer.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ConnectInfo(a))| {
        a.ip()
    });
    if !st.limiter.allow(ip) {
        tracing::warn!(peer = %ip, "enrolment attempts over the limit");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            Json(serde_json::json!({"error": "too many enrolment attempts; wait a minute"})),
        )
            .into_response();
    }
    match enrol_inner(&st, body, ip).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn enrol_inner(
    st: &DeviceAuth,
    body: Result<Json<EnrolRequest>, JsonRejection>,
    peer: IpAddr,
) -> Result<EnrolResponse, ApiError> {
    let Json(req) = body?;
    let key = PublicKey::from_base64(&req.public_key)
        .map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    let code = EnrolmentCode::parse(&req.code);
    let Some(code) = code else {
        tracing::warn!("enrolment refused: not a code");
        return Err(ApiError::Forbidden(CodeRefused::Unknown.to_string()));
    };
    let (hash, pk) = (code.hash(), key.to_base64());
    let result = st
        .writer
        .run(move |s| s.redeem_enrolment_code(&hash, &pk, now_ms()))
        .await?;
    let enrolled = result.map_err(|why| {
        tracing::warn!(reason = %why, "enrolment refused");
        ApiError::Forbidden(why.to_string())
    })?;
    tracing::info!(device = %enrolled.device, branch = %enrolled.branch, role = %enrolled.role, "device enrolled");
    let entry = Entry::new("enrolment-code", "device.enrol", enrolled.device.as_str())
        .branch(Some(enrolled.branch.as_str()))
        .peer(Some(peer.to_string()))
        .detail(format!("role {}", enrolled.role));
    let _ = st.writer.audit(entry).await;
    if let Some(acl) = &st.acl {
        acl.refresh().await;
    }
    let tls = st.certify(&enrolled.device, enrolled.branch.as_str(), &key)?;
    Ok(EnrolResponse {
        device: enrolled.device.to_string(),
        branch: enrolled.branch.to_string(),
        role: Role::parse(&enrolled.role).unwrap_or(Role::Kiosk),
        central_public_key: st.central_public_key.clone(),
        tls: Some(tls),
    })
}

/// `POST /api/v1/device/certificate`: a new certificate for the calling board's enrolled
/// key (a device route: the request is signed, the device enrolled and not revoked).
#[tracing::instrument(skip_all, fields(device = %who.device))]
pub async fn renew_certificate(
    State(st): State<DeviceAuth>,
    Extension(who): Extension<AuthedDevice>,
) -> Response {
    let id = who.device.to_string();
    let creds = match st.reads.run(move |c| device_credentials(c, &id)).await {
        Ok(Some(c)) => c,
        Ok(None) => return ApiError::NotFound("device not found".into()).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(key) = creds
        .public_key
        .as_deref()
        .and_then(|k| PublicKey::from_base64(k).ok())
    else {
        return ApiError::Forbidden("the device has no enrolled key".into()).into_response();
    };
    match st.certify(&who.device, who.branch.as_str(), &key) {
        Ok(cert) => {
            tracing::info!(expires_ms = cert.expires_ms, "device certificate renewed");
            Json(cert).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /api/v1/devices/{id}/revoke`: revokes a device at once. Administrators, or staff
/// of the device's branch.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn revoke(
    State(st): State<super::ApiState>,
    Extension(who): Extension<Staff>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.change()?;
    let branch = super::api::device_seen(&st, &who, &id).await?;
    let device =
        rong_protocol::DeviceId::new(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    st.ingest.revoke(device.clone(), who.name.clone()).await?;
    if let Some(acl) = &st.acl {
        acl.refresh().await;
    }
    let entry = who
        .entry("device.revoke", device.as_str())
        .branch(Some(&branch));
    let _ = st.writer.audit(entry).await;
    tracing::warn!(device = %device, "device revoked");
    Ok(Json(serde_json::json!({ "revoked": device })))
}

/// Query of `GET /api/v1/quarantine`.
#[derive(Debug, serde::Deserialize)]
pub struct QuarantineQuery {
    /// Decided batches too.
    #[serde(default)]
    all: bool,
}

/// `GET /api/v1/quarantine?all=`: quarantined event batches, newest first; branch staff
/// see their branch's.
#[tracing::instrument(skip_all)]
pub async fn quarantine(
    State(st): State<super::ApiState>,
    Extension(who): Extension<Staff>,
    super::api::ApiQuery(q): super::api::ApiQuery<QuarantineQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let scope = who.scope();
    let rows = st
        .reads
        .run(move |c| central_store::identity::quarantined(c, q.all, scope.as_deref()))
        .await?;
    Ok(Json(serde_json::json!(rows)))
}

/// `POST /api/v1/quarantine/{id}/accept` and `.../discard`. Administrators only: the
/// events came from a device that could not prove it may send them.
#[tracing::instrument(skip_all, fields(id, decision))]
pub async fn decide(
    State(st): State<super::ApiState>,
    Extension(who): Extension<Staff>,
    axum::extract::Path((id, decision)): axum::extract::Path<(i64, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.change()?;
    who.every_branch()?;
    let accept = match decision.as_str() {
        "accept" => true,
        "discard" => false,
        other => return Err(ApiError::NotFound(format!("no decision {other:?}"))),
    };
    st.ingest
        .decide_quarantined(id, accept, who.name.clone())
        .await?;
    let action = if accept {
        "quarantine.accept"
    } else {
        "quarantine.discard"
    };
    let _ = st.writer.audit(who.entry(action, id.to_string())).await;
    Ok(Json(serde_json::json!({ "id": id, "accepted": accept })))
}

/// A refusal of device credentials.
fn refuse(e: &AuthError, now: i64) -> Response {
    let status = match e {
        AuthError::Revoked(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut body = serde_json::json!({ "error": e.to_string() });
    let skew = matches!(e, AuthError::Skew { .. });
    if skew {
        body[SERVER_TIME_FIELD] = now.into();
    }
    let mut resp = (status, Json(body)).into_response();
    let h = resp.headers_mut();
    if skew {
        h.insert(SERVER_TIME_HEADER, HeaderValue::from(now));
    }
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(rong_identity::SCHEME),
    );
    if let Ok(v) = HeaderValue::from_str(&central_digitise::http::http_date(now)) {
        h.insert(header::DATE, v);
    }
    resp
}

/// The `Device` group's guard; see the module documentation.
pub async fn device_auth(State(st): State<DeviceAuth>, mut req: Request, next: Next) -> Response {
    let now = now_ms();
    // Only what the check reads: the body is not `Sync`, so the request cannot be held
    // across an await by reference.
    let sent = Sent {
        authorization: req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned)),
        method: req.method().as_str().to_owned(),
        path_and_query: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned()),
    };
    match check(&st, &sent, now).await {
        Ok(device) => {
            req.extensions_mut().insert(device);
            next.run(req).await
        }
        Err(e) => {
            tracing::warn!(method = %req.method(), path = %req.uri().path(), error = %e, "device request refused");
            refuse(&e, now)
        }
    }
}

/// What [`check`] reads of a request.
struct Sent {
    authorization: Option<Result<String, header::ToStrError>>,
    method: String,
    path_and_query: String,
}

async fn check(st: &DeviceAuth, sent: &Sent, now: i64) -> Result<AuthedDevice, AuthError> {
    let header = sent
        .authorization
        .as_ref()
        .ok_or(AuthError::Missing)?
        .as_ref()
        .map_err(|_| AuthError::Malformed("not ASCII".into()))?;
    let auth = AuthHeader::parse(header)?;
    let id = auth.device.clone();
    let creds = st
        .reads
        .run(move |c| device_credentials(c, &id))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot look a device up");
            AuthError::Unknown(auth.device.clone())
        })?;
    let Some(creds) = creds else {
        return Err(AuthError::Unknown(auth.device));
    };
    let key = creds
        .public_key
        .as_deref()
        .and_then(|k| PublicKey::from_base64(k).ok())
        .ok_or_else(|| AuthError::Unknown(auth.device.clone()))?;
    auth.verify(&key, &sent.method, &sent.path_and_query, now)?;
    if creds.revoked {
        return Err(AuthError::Revoked(auth.device));
    }
    Ok(AuthedDevice {
        device: creds.device,
        branch: creds.branch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_address() {
        let l = Limiter::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        for _ in 0..LIMIT_PER_WINDOW {
            assert!(l.allow(a));
        }
        assert!(!l.allow(a));
        assert!(l.allow(b));
    }
}
