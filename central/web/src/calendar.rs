//! A branch's calendar in the dashboard (`/admin/calendar`): its closed days of a year, the
//! public holidays added in one step (Tết and Giỗ Tổ from the lunar calendar), one-off
//! closures, and a preview of how due dates move around Tết. Administrators manage every
//! branch (and may close them all at once); branch staff their own; read-only users look.
//! Every change is audited and reaches the devices by delta.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use super::html::{esc, form_errors, url_enc};
use super::{Page, Session, WebError, WebState};
use central_store::admin::Role;
use central_store::calendar::{self, MAX_CLOSURE_DAYS, MAX_REASON_CHARS};
use central_store::network::FieldError;
use rong_protocol::delta::ClosedDay;
use rong_protocol::ids::BranchId;

/// Loans the preview shows: one made on each of these days before Tết.
const PREVIEW_DAYS: i64 = 14;

/// The calendar page's query.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    branch: Option<String>,
    year: Option<i32>,
}

/// A closure, or the holidays of a year, as posted.
#[derive(Debug, Default, Deserialize)]
pub struct CalendarForm {
    csrf: Option<String>,
    #[serde(default)]
    branch: String,
    year: Option<i32>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    date: String,
    all_branches: Option<String>,
}

fn err(field: &'static str, en: impl Into<String>, vi: impl Into<String>) -> FieldError {
    FieldError {
        field,
        en: en.into(),
        vi: vi.into(),
    }
}

fn this_year(st: &WebState) -> i32 {
    let now = chrono::Utc::now() + Duration::minutes(i64::from(st.ctx.utc_offset_min));
    now.year()
}

fn check_year(year: i32) -> Result<i32, WebError> {
    if (1900..=2199).contains(&year) {
        Ok(year)
    } else {
        Err(WebError::BadRequest("the year must be 1900 to 2199".into()))
    }
}

async fn page(
    st: &WebState,
    s: &Session,
    branch: Option<String>,
    year: i32,
    f: &CalendarForm,
    errors: &[FieldError],
) -> Page {
    let lang = s.lang;
    let year = check_year(year)?;
    let all = st
        .reads
        .run(|c| central_store::snapshot::branch_ids(c))
        .await?;
    let mine: Vec<String> = all
        .iter()
        .map(|b| b.to_string())
        .filter(|b| s.access().may_see(Some(b)))
        .collect();
    let branch = match branch
        .or_else(|| s.branch.clone())
        .or_else(|| mine.first().cloned())
    {
        Some(b) => b,
        None => {
            return Ok(s.page(
                lang.t("calendar"),
                "calendar",
                &format!("<h1>{}</h1><p>{}</p>", lang.t("calendar"), lang.t("none")),
            ))
        }
    };
    s.may_see(Some(&branch))?;
    let (b, id) = (branch.clone(), branch.clone());
    let (from, to) = (
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or(WebError::NotFound(lang))?,
        NaiveDate::from_ymd_opt(year, 12, 31).ok_or(WebError::NotFound(lang))?,
    );
    let (details, closed, preview) = st
        .reads
        .run(move |c| {
            let Some(details) = central_store::network::branch(c, &b)? else {
                return Ok((None, Vec::new(), None));
            };
            let closed = calendar::closed_days(c, &b, from, to)?;
            let preview = calendar::tet_preview(c, &details.branch, year, PREVIEW_DAYS)?;
            Ok((Some(details), closed, preview))
        })
        .await?;
    details.ok_or(WebError::NotFound(lang))?;
    let mut h = format!(
        "<h1>{}</h1><form method=\"get\" action=\"/admin/calendar\" class=\"card\" id=\"calendar-pick\">\
         <label>{}<br><select name=\"branch\" id=\"pick-branch\">",
        lang.t("calendar"),
        lang.t("branch")
    );
    for br in &mine {
        let sel = if *br == id { " selected" } else { "" };
        let _ = write!(h, "<option{sel}>{}</option>", esc(br));
    }
    let _ = write!(
        h,
        "</select></label> <label>{}<br><input type=\"number\" name=\"year\" id=\"pick-year\" value=\"{year}\" min=\"1900\" max=\"2199\" style=\"width:7rem\"></label> \
         <button id=\"pick\">{}</button></form>{}",
        lang.t("year"),
        lang.t("show"),
        form_errors(lang, errors),
    );
    // How due dates move around Tết.
    if let Some(p) = preview {
        let _ = write!(
            h,
            "<div class=\"card\" id=\"tet-preview\"><h2>{} {year}: {}</h2><p class=\"muted\">{}</p>\
             <table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("tet"),
            p.tet.format("%d/%m/%Y"),
            lang.t("tet_preview_help").replace("{days}", &p.loan_days.to_string()),
            lang.t("loan_made"),
            lang.t("due_on"),
        );
        for (made, due, moved) in p.rows {
            let _ = write!(
                h,
                "<tr data-made=\"{made}\" data-due=\"{due}\"{}><td>{}</td><td>{}{}</td></tr>",
                if moved { " class=\"moved\"" } else { "" },
                made.format("%d/%m/%Y"),
                due.format("%d/%m/%Y"),
                if moved {
                    format!(" ({})", lang.t("moved_past_closure"))
                } else {
                    String::new()
                },
            );
        }
        h.push_str("</tbody></table></div>");
    }
    let may_change = s.access().may_change();
    if may_change {
        let all_box = if s.role == Role::Admin {
            format!(
                "<label><input type=\"checkbox\" name=\"all_branches\" id=\"{{}}-all\"> {}</label>",
                lang.t("all_branches")
            )
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/admin/calendar/holidays\" class=\"card\" id=\"holidays-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"branch\" value=\"{}\">\
             <input type=\"hidden\" name=\"year\" value=\"{year}\"><p>{}</p>{}<button id=\"add-holidays\">{} {year}</button></form>",
            esc(&s.csrf),
            esc(&id),
            lang.t("holidays_help"),
            all_box.replace("{}", "holidays"),
            lang.t("add_holidays"),
        );
        let _ = write!(
            h,
            "<form method=\"post\" action=\"/admin/calendar/closures\" class=\"card stack\" id=\"closure-form\">\
             <h2>{}</h2><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"branch\" value=\"{}\">\
             <input type=\"hidden\" name=\"year\" value=\"{year}\">\
             <label>{}<br><input type=\"date\" name=\"from\" id=\"from\" value=\"{}\" required></label>\
             <label>{}<br><input type=\"date\" name=\"to\" id=\"to\" value=\"{}\"></label>\
             <label>{}<br><input name=\"reason\" id=\"reason\" value=\"{}\" maxlength=\"{MAX_REASON_CHARS}\" required></label>{}\
             <p><button id=\"add-closure\">{}</button></p></form>",
            lang.t("closure_new"),
            esc(&s.csrf),
            esc(&id),
            lang.t("from_day"),
            esc(&f.from),
            lang.t("to_day"),
            esc(&f.to),
            lang.t("reason"),
            esc(&f.reason),
            all_box.replace("{}", "closure"),
            lang.t("save"),
        );
    }
    let in_year: Vec<&ClosedDay> = closed.iter().collect();
    let _ = write!(
        h,
        "<h2>{} {year}</h2><table id=\"closed-days\"><thead><tr><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("closed_days"),
        lang.t("date"),
        lang.t("reason"),
    );
    if in_year.is_empty() {
        h.push_str(&super::html::none_row(lang, 3));
    }
    for d in in_year {
        let remove = if may_change {
            format!(
                "<form method=\"post\" action=\"/admin/calendar/remove\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"branch\" value=\"{}\">\
                 <input type=\"hidden\" name=\"date\" value=\"{}\"><button>{}</button></form>",
                esc(&s.csrf),
                esc(&id),
                d.date,
                lang.t("reopen")
            )
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<tr data-date=\"{}\"><td>{}</td><td>{}</td><td>{remove}</td></tr>",
            d.date,
            d.date.format("%d/%m/%Y"),
            esc(&d.reason)
        );
    }
    h.push_str("</tbody></table>");
    let mut r = s.page(lang.t("calendar"), "calendar", &h);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(r)
}

/// `GET /admin/calendar?branch=&year=`.
#[tracing::instrument(skip_all)]
pub async fn show(State(st): State<WebState>, s: Session, Query(q): Query<CalendarQuery>) -> Page {
    let year = q.year.unwrap_or_else(|| this_year(&st));
    page(&st, &s, q.branch, year, &CalendarForm::default(), &[]).await
}

/// The branches a change applies to: the form's, or every one (administrators).
async fn targets(st: &WebState, s: &Session, f: &CalendarForm) -> Result<Vec<BranchId>, WebError> {
    s.check_change(f.csrf.as_deref())?;
    if f.all_branches.is_some() {
        if s.role != Role::Admin {
            return Err(WebError::Forbidden(s.lang));
        }
        return Ok(st
            .reads
            .run(|c| central_store::snapshot::branch_ids(c))
            .await?);
    }
    s.may_see(Some(&f.branch))?;
    Ok(vec![
        BranchId::new(f.branch.clone()).map_err(|_| WebError::NotFound(s.lang))?
    ])
}

/// Closes the days and audits it as `action` on the form's branch (or `*`: all of them).
async fn close(
    st: &WebState,
    s: &Session,
    f: &CalendarForm,
    days: Vec<ClosedDay>,
    action: &str,
    detail: String,
) -> Result<(), WebError> {
    st.network.close_days(days).await?;
    let target = if f.all_branches.is_some() {
        "*".to_owned()
    } else {
        f.branch.clone()
    };
    let entry = s
        .entry(action, &target)
        .branch(Some(&f.branch))
        .detail(detail);
    let _ = st.writer.audit(entry).await;
    Ok(())
}

fn back(branch: &str, year: i32) -> axum::response::Response {
    Redirect::to(&format!(
        "/admin/calendar?branch={}&year={year}",
        url_enc(branch)
    ))
    .into_response()
}

/// `POST /admin/calendar/holidays`: closes the branch (or all) on a year's public holidays.
#[tracing::instrument(skip_all)]
pub async fn holidays(State(st): State<WebState>, s: Session, Form(f): Form<CalendarForm>) -> Page {
    let year = check_year(f.year.unwrap_or_else(|| this_year(&st)))?;
    let branches = targets(&st, &s, &f).await?;
    let mut days = Vec::new();
    for b in &branches {
        for (date, reason) in calendar::public_holidays(year) {
            days.push(ClosedDay {
                branch: b.clone(),
                date,
                reason: reason.to_owned(),
            });
        }
    }
    let detail = format!("{year}: {} closed days", days.len());
    close(&st, &s, &f, days, "calendar.holidays", detail).await?;
    Ok(back(&f.branch, year))
}

/// `POST /admin/calendar/closures`: closes the branch (or all) from one day to another.
#[tracing::instrument(skip_all)]
pub async fn closure(State(st): State<WebState>, s: Session, Form(f): Form<CalendarForm>) -> Page {
    let year = check_year(f.year.unwrap_or_else(|| this_year(&st)))?;
    let branches = targets(&st, &s, &f).await?;
    let mut errors = Vec::new();
    let from = f.from.trim().parse::<NaiveDate>().map_err(|_| {
        errors.push(err(
            "from",
            "Give the first day closed",
            "Vui lòng chọn ngày bắt đầu đóng cửa",
        ))
    });
    let to = if f.to.trim().is_empty() {
        from
    } else {
        f.to.trim().parse::<NaiveDate>().map_err(|_| {
            errors.push(err(
                "to",
                "The last day is not a date",
                "Ngày kết thúc không phải là ngày hợp lệ",
            ))
        })
    };
    let reason = f.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        errors.push(err(
            "reason",
            format!("Give the reason, at most {MAX_REASON_CHARS} characters on one line"),
            format!("Vui lòng ghi lý do, tối đa {MAX_REASON_CHARS} ký tự trên một dòng"),
        ));
    }
    if let (Ok(a), Ok(b)) = (from, to) {
        if b < a {
            errors.push(err(
                "to",
                "The last day comes before the first",
                "Ngày kết thúc đứng trước ngày bắt đầu",
            ));
        } else if (b - a).num_days() >= MAX_CLOSURE_DAYS {
            errors.push(err(
                "to",
                format!("A closure covers at most {MAX_CLOSURE_DAYS} days"),
                format!("Một lần đóng cửa dài tối đa {MAX_CLOSURE_DAYS} ngày"),
            ));
        }
    }
    let (Ok(from), Ok(to), true) = (from, to, errors.is_empty()) else {
        return page(&st, &s, Some(f.branch.clone()), year, &f, &errors).await;
    };
    let mut days = Vec::new();
    for b in &branches {
        let mut day = from;
        while day <= to {
            days.push(ClosedDay {
                branch: b.clone(),
                date: day,
                reason: reason.to_owned(),
            });
            day += Duration::days(1);
        }
    }
    let detail = format!("{from} to {to}: {reason}");
    close(&st, &s, &f, days, "calendar.close", detail).await?;
    Ok(back(&f.branch, year))
}

/// `POST /admin/calendar/remove`: opens the branch again on a day.
#[tracing::instrument(skip_all)]
pub async fn reopen(State(st): State<WebState>, s: Session, Form(f): Form<CalendarForm>) -> Page {
    s.check_change(f.csrf.as_deref())?;
    s.may_see(Some(&f.branch))?;
    let branch = BranchId::new(f.branch.clone()).map_err(|_| WebError::NotFound(s.lang))?;
    let date: NaiveDate = f
        .date
        .trim()
        .parse()
        .map_err(|_| WebError::BadRequest("not a date".into()))?;
    st.network.open_day(branch, date).await?;
    let entry = s
        .entry("calendar.reopen", &f.branch)
        .branch(Some(&f.branch))
        .detail(date.to_string());
    let _ = st.writer.audit(entry).await;
    Ok(back(&f.branch, date.year()))
}
