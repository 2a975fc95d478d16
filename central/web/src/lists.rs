//! The daily lists (`/admin/lists`): overdue loans with the readers' contacts (for staff
//! who may act on them; read-only users see no contacts), the readers registered this
//! month, and the memberships that end in the next 30 days. Of the user's branch, or of any
//! branch for administrators; printable (the menu and forms are not printed).

use std::fmt::Write;

use axum::extract::{Query, State};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use super::html::esc;
use super::{Page, Session, WebState};
use central_store::lists;

/// Days ahead the expiring list looks.
const EXPIRING_DAYS: i64 = 30;

/// The branch filter.
#[derive(Debug, Default, Deserialize)]
pub struct ListsQuery {
    branch: Option<String>,
}

/// `GET /admin/lists?branch=`.
#[tracing::instrument(skip_all)]
pub async fn page(State(st): State<WebState>, s: Session, Query(q): Query<ListsQuery>) -> Page {
    let lang = s.lang;
    let branch = s.scope(q.branch.as_deref().filter(|b| !b.is_empty()))?;
    let now = chrono::Utc::now() + Duration::minutes(i64::from(st.ctx.utc_offset_min));
    let today = now.date_naive();
    let month_start = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let since_ms = (month_start.and_hms_opt(0, 0, 0).unwrap_or_default()
        - Duration::minutes(i64::from(st.ctx.utc_offset_min)))
    .and_utc()
    .timestamp_millis();
    let b = branch.clone();
    let (late, new, ending, branches) = st
        .reads
        .run(move |c| {
            Ok((
                lists::overdue(c, b.as_deref(), today)?,
                lists::new_readers(c, b.as_deref(), since_ms)?,
                lists::expiring(
                    c,
                    b.as_deref(),
                    today,
                    today + Duration::days(EXPIRING_DAYS),
                )?,
                central_store::snapshot::branch_ids(c)?
                    .into_iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    let contacts = s.access().may_lend();
    let mut h = format!(
        "<h1>{} · {}</h1><form method=\"get\" action=\"/admin/lists\" class=\"card noprint\" id=\"lists-pick\">\
         <label>{}<br><select name=\"branch\" id=\"lists-branch\">{}</select></label> <button>{}</button></form>\
         <p class=\"muted noprint\">{}</p>",
        lang.t("lists"),
        today.format("%d/%m/%Y"),
        lang.t("branch"),
        s.branch_options(&branches, branch.as_ref()),
        lang.t("show"),
        lang.t("print_help"),
    );
    let _ = write!(
        h,
        "<h2>{} ({})</h2><table id=\"overdue\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>{}</tr></thead><tbody>",
        lang.t("overdue_loans"),
        late.len(),
        lang.t("due_on"),
        lang.t("item"),
        lang.t("title"),
        lang.t("card"),
        lang.t("name"),
        if contacts {
            format!("<th>{}</th><th>{}</th>", lang.t("phone"), lang.t("email"))
        } else {
            String::new()
        },
    );
    if late.is_empty() {
        h.push_str(&super::html::none_row(lang, if contacts { 7 } else { 5 }));
    }
    for l in &late {
        let _ = write!(
            h,
            "<tr data-item=\"{}\"><td>{} ({} {})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            esc(&l.item),
            l.due.format("%d/%m/%Y"),
            (today - l.due).num_days(),
            lang.t("days_late"),
            esc(&l.item),
            esc(&l.title),
            esc(&l.card),
            esc(&l.name),
            if contacts {
                format!(
                    "<td>{}</td><td>{}</td>",
                    esc(l.phone.as_deref().unwrap_or("")),
                    esc(l.email.as_deref().unwrap_or(""))
                )
            } else {
                String::new()
            },
        );
    }
    h.push_str("</tbody></table>");
    for (id, title, rows) in [
        ("new-readers", lang.t("new_readers"), &new),
        ("expiring", lang.t("expiring"), &ending),
    ] {
        let _ = write!(
            h,
            "<h2>{title} ({})</h2><table id=\"{id}\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            rows.len(),
            lang.t("card"),
            lang.t("name"),
            lang.t("category"),
            lang.t("branch"),
            lang.t("expires"),
        );
        if rows.is_empty() {
            h.push_str(&super::html::none_row(lang, 5));
        }
        for r in rows {
            let _ =
                write!(
                h,
                "<tr data-card=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.card),
                esc(&r.card),
                esc(&r.name),
                esc(&r.category),
                esc(&r.branch),
                r.expires.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_default(),
            );
        }
        h.push_str("</tbody></table>");
    }
    Ok(s.page(lang.t("lists"), "lists", &h))
}
