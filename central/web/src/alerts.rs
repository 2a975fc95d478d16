//! The alerts page: the fleet alerts (raised and cleared by [`crate::rules`]) with the
//! circulation notices, each of which can be acknowledged (recording who and when).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;

use super::html::{datetime, esc, none_row, url_enc};
use super::{now_ms, CsrfForm, Page, Session, WebError, WebState};
use central_store::admin;

/// An acknowledge button, or nothing for a read-only user.
fn ack_form(s: &Session, action: &str, id: &str) -> String {
    if !s.access().may_change() {
        return String::new();
    }
    let (lang, csrf) = (s.lang, &s.csrf);
    format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button id=\"{id}\" class=\"secondary\">{}</button></form>",
        esc(csrf),
        lang.t("ack")
    )
}

/// `GET /admin/alerts`: open alerts, open notices, then what was handled recently.
#[tracing::instrument(skip_all)]
pub async fn page(State(st): State<WebState>, s: Session) -> Page {
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
            ack_form(&s, &format!("/admin/alerts/{}/ack", a.id), &format!("ack-alert-{}", a.id)),
            id = a.id,
            kind = esc(&a.kind),
            dev = esc(&a.device),
        );
    }
    if open.is_empty() {
        b.push_str(&none_row(lang, 6));
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
            ack_form(&s, &format!("/admin/notices/{}/ack", x.id), &format!("ack-notice-{}", x.id)),
            id = x.id,
            kind = esc(&x.kind),
        );
    }
    if open_n.is_empty() {
        b.push_str(&none_row(lang, 7));
    }
    b.push_str("</tbody></table>");
    // Recently acknowledged, alerts and notices together, newest first.
    let handled = |id: String, kind: &str, device: &str, by: Option<&str>, at: i64| {
        let row = format!(
            "<tr id=\"{id}\"><td data-label=\"{}\">{kind}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"acked-by\">{}</td><td data-label=\"{}\">{}</td></tr>",
            lang.t("kind"),
            lang.t("device"),
            esc(device),
            lang.t("acked_by"),
            esc(by.unwrap_or("")),
            lang.t("when"),
            datetime(at, off)
        );
        (at, row)
    };
    let mut done: Vec<(i64, String)> = alerts
        .iter()
        .filter_map(|a| {
            let kind = lang.t(&format!("alert_{}", a.kind));
            let by = a.acknowledged_by.as_deref();
            let id = format!("acked-alert-{}", a.id);
            Some(handled(id, kind, &a.device, by, a.acknowledged_at?))
        })
        .collect();
    done.extend(notices.iter().filter_map(|n| {
        let x = &n.notice;
        let device = x.device.as_deref().unwrap_or("");
        let by = x.acknowledged_by.as_deref();
        let id = format!("acked-notice-{}", x.id);
        Some(handled(id, lang.t(&x.kind), device, by, x.acknowledged_at?))
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
        b.push_str(&none_row(lang, 4));
    }
    b.push_str("</tbody></table>");
    Ok(s.page(lang.t("alerts"), "alerts", &b))
}

/// What staff can acknowledge on the alerts page.
#[derive(Debug, Clone, Copy)]
enum Ack {
    Alert,
    Notice,
}

/// Acknowledges alert or notice `id` for the session's user, once the form's token is
/// checked and the user may see the branch it belongs to; then back to the alerts page.
async fn acknowledge(st: WebState, s: Session, f: CsrfForm, what: Ack, id: i64) -> Page {
    s.check_change(f.csrf.as_deref())?;
    let branch = st
        .reads
        .run(move |c| match what {
            Ack::Alert => Ok(admin::alert_branch(c, id)?.map(Some)),
            Ack::Notice => admin::notice_branch(c, id),
        })
        .await?;
    let Some(branch) = branch else {
        return Err(WebError::NotFound(s.lang));
    };
    s.may_see(branch.as_deref())?;
    let (user, now) = (s.user.clone(), now_ms());
    let done = st
        .writer
        .run(move |w| match what {
            Ack::Alert => w.ack_alert(id, &user, now),
            Ack::Notice => w.ack_notice(id, &user, now),
        })
        .await?;
    if done {
        tracing::info!(user = %s.user, id, what = ?what, "acknowledged");
        let action = match what {
            Ack::Alert => "alert.ack",
            Ack::Notice => "notice.ack",
        };
        let entry = s.entry(action, id.to_string()).branch(branch.as_deref());
        let _ = st.writer.audit(entry).await;
    }
    Ok(Redirect::to("/admin/alerts").into_response())
}

/// The acknowledge buttons' form: only its CSRF token.
type AckForm = Form<CsrfForm>;

/// `POST /admin/alerts/{id}/ack`.
#[tracing::instrument(skip_all, fields(alert = id.0))]
pub async fn ack_alert(st: State<WebState>, s: Session, id: Path<i64>, f: AckForm) -> Page {
    acknowledge(st.0, s, f.0, Ack::Alert, id.0).await
}

/// `POST /admin/notices/{id}/ack`.
#[tracing::instrument(skip_all, fields(notice = id.0))]
pub async fn ack_notice(st: State<WebState>, s: Session, id: Path<i64>, f: AckForm) -> Page {
    acknowledge(st.0, s, f.0, Ack::Notice, id.0).await
}
