//! Device identity in the dashboard: one-time enrolment codes as text and QR code
//! (`/admin/enrol`, administrators), revoking a device (from its page: administrators and
//! its branch's staff), and the events held for review (`/admin/quarantine`: everyone sees
//! their branch's, administrators decide).

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use super::html::{datetime, esc, none_row, url_enc};
use super::{Page, Session, WebError, WebState};
use central_store::admin::Role;
use central_store::identity;
use rong_protocol::ids::DeviceId;

/// The longest a code may stay valid, in hours (a week).
pub const MAX_HOURS: u32 = 24 * 7;

/// `GET /admin/enrol`: the form for a new code.
#[tracing::instrument(skip_all)]
pub async fn form(State(st): State<WebState>, s: Session) -> Page {
    s.admin_only()?;
    let lang = s.lang;
    let branches = st
        .reads
        .run(|c| central_store::snapshot::branch_ids(c))
        .await?
        .into_iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>();
    let mut b = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p>\
         <form method=\"post\" action=\"/admin/enrol\" class=\"card\" id=\"enrol-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<br><select name=\"branch\" id=\"enrol-branch\" required>",
        lang.t("enrol"),
        lang.t("enrol_help"),
        esc(&s.csrf),
        lang.t("branch"),
    );
    for br in &branches {
        let _ = write!(b, "<option>{}</option>", esc(br));
    }
    let _ = write!(
        b,
        "</select></label> <label>{}<br><select name=\"role\" id=\"enrol-role\">\
         <option value=\"kiosk\">{}</option><option value=\"station\">{}</option></select></label> \
         <label>{}<br><input name=\"device\" id=\"enrol-device\" maxlength=\"64\" pattern=\"[a-z0-9-]*\"></label> \
         <label>{}<br><input name=\"hours\" id=\"enrol-hours\" type=\"number\" min=\"1\" max=\"{MAX_HOURS}\" value=\"24\" style=\"width:6rem\"></label> \
         <button id=\"enrol-make\">{}</button></form>",
        lang.t("role"),
        lang.t("role_kiosk"),
        lang.t("role_station"),
        lang.t("device_id_optional"),
        lang.t("hours_valid"),
        lang.t("enrol_make"),
    );
    Ok(s.page(lang.t("enrol"), "devices", &b))
}

/// The enrolment form.
#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    csrf: Option<String>,
    branch: String,
    role: String,
    device: Option<String>,
    hours: Option<u32>,
}

/// `POST /admin/enrol`: makes the code and shows it once, as text and as a QR code.
#[tracing::instrument(skip_all)]
pub async fn make(State(st): State<WebState>, s: Session, Form(f): Form<EnrolForm>) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.admin_only()?;
    let lang = s.lang;
    let hours = f.hours.unwrap_or(24);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(WebError::BadRequest(format!(
            "hours must be 1 to {MAX_HOURS}"
        )));
    }
    let device = f
        .device
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    let made = st
        .device_admin
        .enrolment_code(
            f.branch.clone(),
            f.role.clone(),
            device,
            hours,
            s.user.clone(),
        )
        .await?;
    let detail = format!("{} code, valid {hours} h", f.role);
    let target = made.device.clone().unwrap_or_else(|| "-".into());
    let entry = s.entry("device.code", target).branch(Some(&f.branch));
    let _ = st.writer.audit(entry.detail(detail)).await;
    // The renderer's SVG is a whole document; only the <svg> element goes in the page.
    let svg = made.qr_svg.find("<svg").map_or("", |i| &made.qr_svg[i..]);
    let b = format!(
        "<p><a href=\"/admin/enrol\">← {}</a></p><h1>{}</h1>\
         <div class=\"card\"><p>{}: <strong>{}</strong> · {} · {}</p>\
         <p class=\"code\" id=\"enrol-code\" style=\"font:700 1.6rem monospace;letter-spacing:.05em\">{}</p>\
         <div id=\"enrol-qr\" style=\"max-width:16rem\">{svg}</div>\
         <p>{}: <span id=\"enrol-until\">{}</span></p><p class=\"muted\">{}</p></div>",
        lang.t("enrol"),
        lang.t("enrol_code"),
        lang.t("enrol_for"),
        esc(made.device.as_deref().unwrap_or("")),
        esc(&f.branch),
        lang.t(if f.role == "station" {
            "role_station"
        } else {
            "role_kiosk"
        }),
        esc(&made.code),
        lang.t("enrol_until"),
        datetime(made.expires_at, st.ctx.utc_offset_min),
        lang.t("enrol_help"),
    );
    Ok(s.page(lang.t("enrol_code"), "devices", &b))
}

/// A change form with only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /admin/devices/{id}/revoke`: administrators, or the device's branch's staff.
#[tracing::instrument(skip_all, fields(device = %id))]
pub async fn revoke(
    State(st): State<WebState>,
    s: Session,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Page {
    s.check_change(f.csrf.as_deref())?;
    let id2 = id.clone();
    let branch = st
        .reads
        .run(move |c| central_store::admin::device_branch(c, &id2))
        .await?
        .ok_or(WebError::NotFound(s.lang))?;
    s.may_see(Some(&branch))?;
    let device = DeviceId::new(id.clone()).map_err(|e| WebError::BadRequest(e.to_string()))?;
    st.device_admin.revoke(device, s.user.clone()).await?;
    tracing::warn!(user = %s.user, device = %id, "device revoked from the dashboard");
    let entry = s.entry("device.revoke", id.clone()).branch(Some(&branch));
    let _ = st.writer.audit(entry).await;
    Ok(Redirect::to(&format!("/admin/devices/{}?revoked=1", url_enc(&id))).into_response())
}

/// Whether `device` is revoked, for its page.
pub async fn is_revoked(st: &WebState, device: &str) -> bool {
    let id = device.to_owned();
    st.reads
        .run(move |c| identity::device_credentials(c, &id))
        .await
        .ok()
        .flatten()
        .is_some_and(|c| c.revoked)
}

/// The revoke form for a device's page (or the "revoked" mark).
pub fn revoke_card(s: &Session, device: &str, revoked: bool) -> String {
    let lang = s.lang;
    if revoked {
        return format!(
            "<p class=\"card err\" id=\"device-revoked\"><strong>{}</strong></p>",
            lang.t("revoked")
        );
    }
    if !s.access().may_change() {
        return String::new();
    }
    format!(
        "<form method=\"post\" action=\"/admin/devices/{}/revoke\" class=\"card\" id=\"revoke-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><p class=\"muted\">{}</p>\
         <button id=\"revoke\" class=\"danger\">{}</button></form>",
        url_enc(device),
        esc(&s.csrf),
        lang.t("revoke_help"),
        lang.t("revoke"),
    )
}

/// Query of `/admin/quarantine`.
#[derive(Debug, Deserialize)]
pub struct QuarantineQuery {
    /// Decided batches too.
    #[serde(default)]
    all: bool,
}

/// `GET /admin/quarantine?all=`: batches held for review, newest first.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<WebState>,
    s: Session,
    Query(q): Query<QuarantineQuery>,
) -> Page {
    let lang = s.lang;
    let off = st.ctx.utc_offset_min;
    let scope = s.scope(None)?;
    let rows = st
        .reads
        .run(move |c| identity::quarantined(c, q.all, scope.as_deref()))
        .await?;
    let decides = s.role == Role::Admin && s.access().may_change();
    let mut b = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p><div class=\"scroll\"><table class=\"stack\" id=\"quarantine\"><thead><tr>",
        lang.t("quarantine"),
        lang.t("quarantine_help"),
    );
    for key in ["when", "device", "branch", "reason", "events", "decision"] {
        let _ = write!(b, "<th>{}</th>", lang.t(key));
    }
    b.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        b.push_str(&none_row(lang, 6));
    }
    for r in &rows {
        let decision = match (&r.decision, decides) {
            (Some(d), _) => format!(
                "{} ({})",
                lang.t(if d == "accepted" { "accept" } else { "discard" }),
                esc(r.decided_by.as_deref().unwrap_or(""))
            ),
            (None, true) => {
                let form = |what: &str, class: &str| {
                    format!(
                        "<form method=\"post\" action=\"/admin/quarantine/{}/{what}\" style=\"display:inline\">\
                         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                         <button id=\"q-{what}-{}\"{class}>{}</button></form>",
                        r.id,
                        esc(&s.csrf),
                        r.id,
                        lang.t(what)
                    )
                };
                format!(
                    "{} {}",
                    form("accept", ""),
                    form("discard", " class=\"secondary\"")
                )
            }
            (None, false) => String::new(),
        };
        let _ = write!(
            b,
            "<tr id=\"q-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{decision}</td></tr>",
            r.id,
            lang.t("when"),
            datetime(r.received_at, off),
            lang.t("device"),
            esc(&r.device),
            lang.t("branch"),
            esc(&r.branch),
            lang.t("reason"),
            esc(&r.reason),
            lang.t("events"),
            r.events,
            lang.t("decision"),
        );
    }
    b.push_str("</tbody></table></div>");
    Ok(s.page(lang.t("quarantine"), "quarantine", &b))
}

/// `POST /admin/quarantine/{id}/{decision}`: administrators accept or discard a batch.
#[tracing::instrument(skip_all, fields(id, decision))]
pub async fn decide(
    State(st): State<WebState>,
    s: Session,
    Path((id, decision)): Path<(i64, String)>,
    Form(f): Form<CsrfForm>,
) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.admin_only()?;
    let accept = match decision.as_str() {
        "accept" => true,
        "discard" => false,
        _ => return Err(WebError::NotFound(s.lang)),
    };
    st.device_admin.decide(id, accept, s.user.clone()).await?;
    let action = if accept {
        "quarantine.accept"
    } else {
        "quarantine.discard"
    };
    let _ = st.writer.audit(s.entry(action, id.to_string())).await;
    Ok(Redirect::to("/admin/quarantine?all=true").into_response())
}
