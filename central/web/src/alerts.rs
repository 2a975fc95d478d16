//! The alerts page: the fleet alerts (raised and cleared by [`crate::rules`]) with the
//! circulation notices, each of which can be acknowledged (recording who and when).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::html::{datetime, esc, page as layout, url_enc};
use super::i18n::Lang;
use super::{html_response, now_ms, session, CsrfForm, WebError, WebState};
use central_store::admin;

fn ack_form(lang: Lang, action: &str, csrf: &str, id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button id=\"{id}\" class=\"secondary\">{}</button></form>",
        esc(csrf),
        lang.t("ack")
    )
}

/// `GET /admin/alerts`: open alerts, open notices, then what was handled recently.
#[tracing::instrument(skip_all)]
pub async fn page(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    let lang = s.lang;
    let off = st.ctx.utc_offset_min;
    let branch = s.scope(None)?;
    let (alerts, notices) = st
        .reads
        .run(move |c| {
            Ok((
                admin::alerts(c, branch.as_deref(), false, 200)?,
                admin::branch_notices(c, branch.as_deref(), false, 200)?,
            ))
        })
        .await?;
    let mut b = format!("<h1>{}</h1>", lang.t("alerts"));
    let open: Vec<_> = alerts
        .iter()
        .filter(|a| a.acknowledged_at.is_none())
        .collect();
    let _ = write!(
        b,
        "<h2>{} ({})</h2><table class=\"stack\" id=\"open-alerts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("open_alerts"),
        open.len(),
        lang.t("kind"),
        lang.t("device"),
        lang.t("detail"),
        lang.t("raised"),
        lang.t("cleared"),
    );
    for a in &open {
        let _ = write!(
            b,
            "<tr id=\"alert-{id}\" data-kind=\"{kind}\" data-device=\"{dev}\"><td data-label=\"{}\"><strong>{}</strong></td>\
             <td data-label=\"{}\"><a href=\"/admin/devices/{}\">{dev}</a> <span class=\"muted\">{}</span></td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td>{}</td></tr>",
            lang.t("kind"),
            lang.t(&format!("alert_{}", a.kind)),
            lang.t("device"),
            url_enc(&a.device),
            esc(&a.branch),
            lang.t("detail"),
            esc(&a.detail),
            lang.t("raised"),
            datetime(a.raised_at, off),
            lang.t("cleared"),
            a.cleared_at.map(|t| datetime(t, off)).unwrap_or_else(|| "–".into()),
            ack_form(lang, &format!("/admin/alerts/{}/ack", a.id), &s.csrf, &format!("ack-alert-{}", a.id)),
            id = a.id,
            kind = esc(&a.kind),
            dev = esc(&a.device),
        );
    }
    if open.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    let open_n: Vec<_> = notices
        .iter()
        .filter(|n| n.notice.acknowledged_at.is_none())
        .collect();
    let _ = write!(
        b,
        "<h2>{} ({})</h2><table class=\"stack\" id=\"open-notices\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("notices"),
        open_n.len(),
        lang.t("kind"),
        lang.t("device"),
        lang.t("item"),
        lang.t("patron"),
        lang.t("detail"),
        lang.t("raised"),
    );
    for n in &open_n {
        let x = &n.notice;
        let _ = write!(
            b,
            "<tr id=\"notice-{id}\" data-kind=\"{kind}\"><td data-label=\"{}\"><strong>{}</strong></td><td data-label=\"{}\">{}</td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td>{}</td></tr>",
            lang.t("kind"),
            lang.t(&x.kind),
            lang.t("device"),
            esc(x.device.as_deref().unwrap_or("")),
            lang.t("item"),
            esc(x.item.as_deref().unwrap_or("")),
            lang.t("patron"),
            esc(x.patron.as_deref().unwrap_or("")),
            lang.t("detail"),
            esc(&x.detail),
            lang.t("raised"),
            datetime(x.created_at, off),
            ack_form(lang, &format!("/admin/notices/{}/ack", x.id), &s.csrf, &format!("ack-notice-{}", x.id)),
            id = x.id,
            kind = esc(&x.kind),
        );
    }
    if open_n.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    // Recently acknowledged, alerts and notices together, newest first.
    let mut done: Vec<(i64, String)> = alerts
        .iter()
        .filter_map(|a| {
            Some((
                a.acknowledged_at?,
                format!(
                    "<tr id=\"acked-alert-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"acked-by\">{}</td><td data-label=\"{}\">{}</td></tr>",
                    a.id,
                    lang.t("kind"),
                    lang.t(&format!("alert_{}", a.kind)),
                    lang.t("device"),
                    esc(&a.device),
                    lang.t("acked_by"),
                    esc(a.acknowledged_by.as_deref().unwrap_or("")),
                    lang.t("when"),
                    datetime(a.acknowledged_at?, off)
                ),
            ))
        })
        .collect();
    done.extend(notices.iter().filter_map(|n| {
        let x = &n.notice;
        Some((
            x.acknowledged_at?,
            format!(
                "<tr id=\"acked-notice-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"acked-by\">{}</td><td data-label=\"{}\">{}</td></tr>",
                x.id,
                lang.t("kind"),
                lang.t(&x.kind),
                lang.t("device"),
                esc(x.device.as_deref().unwrap_or("")),
                lang.t("acked_by"),
                esc(x.acknowledged_by.as_deref().unwrap_or("")),
                lang.t("when"),
                datetime(x.acknowledged_at?, off)
            ),
        ))
    }));
    done.sort_by_key(|d| std::cmp::Reverse(d.0));
    let _ = write!(
        b,
        "<h2>{}</h2><table class=\"stack\" id=\"handled\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("history"),
        lang.t("kind"),
        lang.t("device"),
        lang.t("acked_by"),
        lang.t("when"),
    );
    for (_, row) in done.iter().take(50) {
        b.push_str(row);
    }
    if done.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"4\" class=\"muted\">{}</td></tr>",
            lang.t("none")
        );
    }
    b.push_str("</tbody></table>");
    Ok(html_response(layout(
        lang,
        lang.t("alerts"),
        "alerts",
        Some(&s.viewer()),
        &b,
    )))
}

/// `POST /admin/alerts/{id}/ack`.
#[tracing::instrument(skip_all, fields(alert = id))]
pub async fn ack_alert(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    s.check_csrf(f.csrf.as_deref())?;
    let branch = st.reads.run(move |c| admin::alert_branch(c, id)).await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(Some(&branch))?;
    let user = s.user.clone();
    let now = now_ms();
    if st.writer.run(move |w| w.ack_alert(id, &user, now)).await? {
        tracing::info!(user = %s.user, alert = id, "alert acknowledged");
    }
    Ok(Redirect::to("/admin/alerts").into_response())
}

/// `POST /admin/notices/{id}/ack`.
#[tracing::instrument(skip_all, fields(notice = id))]
pub async fn ack_notice(
    State(st): State<WebState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let s = session(&st, &headers, &uri).await?;
    s.check_csrf(f.csrf.as_deref())?;
    let branch = st.reads.run(move |c| admin::notice_branch(c, id)).await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(branch.as_deref())?;
    let user = s.user.clone();
    let now = now_ms();
    if st.writer.run(move |w| w.ack_notice(id, &user, now)).await? {
        tracing::info!(user = %s.user, notice = id, "notice acknowledged");
    }
    Ok(Redirect::to("/admin/alerts").into_response())
}
