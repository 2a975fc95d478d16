//! The audit log page (`/admin/audit`): every change, newest first, a page at a time.
//! Administrators see every row; branch staff and read-only users their branch's.

use std::fmt::Write;

use axum::extract::{Query, State};
use serde::Deserialize;

use super::html::{datetime, esc, none_row};
use super::{Page, Session, WebState};
use central_store::audit;

/// Rows per page.
const PAGE_ROWS: u32 = 50;

/// Query of `/admin/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Show rows older than this id (the "older" link).
    before: Option<i64>,
}

/// `GET /admin/audit?before=`.
#[tracing::instrument(skip_all)]
pub async fn page(State(st): State<WebState>, s: Session, Query(q): Query<AuditQuery>) -> Page {
    let lang = s.lang;
    let off = st.ctx.utc_offset_min;
    let branch = s.scope(None)?;
    let before = q.before;
    let rows = st
        .reads
        .run(move |c| audit::page(c, branch.as_deref(), before, PAGE_ROWS))
        .await?;
    let mut b = format!(
        "<h1>{}</h1><div class=\"scroll\"><table class=\"stack\" id=\"audit\"><thead><tr>",
        lang.t("audit")
    );
    for key in [
        "when", "actor", "role", "action", "target", "branch", "peer", "detail",
    ] {
        let _ = write!(b, "<th>{}</th>", lang.t(key));
    }
    b.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        b.push_str(&none_row(lang, 8));
    }
    for row in &rows {
        let r = &row.entry;
        let _ = write!(
            b,
            "<tr id=\"audit-{}\"><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td>\
             <td data-label=\"{}\" class=\"action\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td>\
             <td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td></tr>",
            row.id,
            lang.t("when"),
            datetime(r.at_ms, off),
            lang.t("actor"),
            esc(&r.actor),
            lang.t("role"),
            esc(r.role.as_deref().unwrap_or("")),
            lang.t("action"),
            esc(&r.action),
            lang.t("target"),
            esc(&r.target),
            lang.t("branch"),
            esc(r.branch.as_deref().unwrap_or("")),
            lang.t("peer"),
            esc(r.peer.as_deref().unwrap_or("")),
            lang.t("detail"),
            esc(&r.detail),
        );
    }
    b.push_str("</tbody></table></div><p class=\"pager\">");
    if before.is_some() {
        let _ = write!(
            b,
            "<a href=\"/admin/audit\" id=\"audit-newest\">{}</a> ",
            lang.t("newest")
        );
    }
    if rows.len() == PAGE_ROWS as usize {
        if let Some(last) = rows.last() {
            let _ = write!(
                b,
                "<a href=\"/admin/audit?before={}\" id=\"audit-older\">{} →</a>",
                last.id,
                lang.t("older")
            );
        }
    }
    b.push_str("</p>");
    Ok(s.page(lang.t("audit"), "audit", &b))
}
