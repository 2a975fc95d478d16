//! Statistics: loans, returns, renewals and visits (identifications) per day or month and
//! branch, top titles, a CSV export, and the yearly report with the change against the
//! previous year.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{Datelike, Duration as Days, NaiveDate};
use serde::Deserialize;

use super::html::{esc, none_row, url_enc};
use super::i18n::Lang;
use super::svg::{bars, Series};
use super::{Page, Session, WebError, WebState};
use central_store::admin::{self, DayCount};

/// The four counted kinds, in column order.
const KINDS: [(&str, &str, &str); 4] = [
    ("checkout", "loans", "#0b6e4f"),
    ("checkin", "returns", "#3b82c4"),
    ("renew", "renewals", "#c98a12"),
    ("identify", "visits", "#8a4fb3"),
];

/// Counts of the four kinds.
pub type Counts = [u64; 4];

fn kind_index(kind: &str) -> Option<usize> {
    KINDS.iter().position(|(k, _, _)| *k == kind)
}

/// Sums day counts into `(period, branch) → counts`; the period is the day or its month.
pub fn aggregate(rows: &[DayCount], by_month: bool) -> BTreeMap<(String, String), Counts> {
    let mut out: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for r in rows {
        let Some(i) = kind_index(&r.kind) else {
            continue;
        };
        let period = if by_month {
            r.day.get(..7).unwrap_or(&r.day).to_owned()
        } else {
            r.day.clone()
        };
        out.entry((period, r.branch.clone())).or_default()[i] += r.count;
    }
    out
}

/// Sums counts per branch.
pub fn per_branch(rows: &[DayCount]) -> BTreeMap<String, Counts> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for r in rows {
        if let Some(i) = kind_index(&r.kind) {
            out.entry(r.branch.clone()).or_default()[i] += r.count;
        }
    }
    out
}

/// The change from `before` to `now` in percent, when there was something before.
pub fn change_pct(before: u64, now: u64) -> Option<f64> {
    (before > 0).then(|| (now as f64 - before as f64) * 100.0 / before as f64)
}

/// Query of the statistics page and the CSV.
#[derive(Debug, Deserialize, Default)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    branch: Option<String>,
    by: Option<String>,
}

struct Period {
    from: NaiveDate,
    to: NaiveDate,
    by_month: bool,
    branch: Option<String>,
}

fn today(off: i32) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::minutes(i64::from(off))).date_naive()
}

/// Milliseconds at the library's local midnight starting `d`.
fn local_midnight_ms(d: NaiveDate, off: i32) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
        - i64::from(off) * 60_000
}

fn period(q: &StatsQuery, branch: Option<String>, off: i32) -> Result<Period, WebError> {
    let date = |s: &Option<String>, default: NaiveDate| -> Result<NaiveDate, WebError> {
        match s.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => s
                .parse()
                .map_err(|_| WebError::BadRequest(format!("{s:?} is not a date (yyyy-mm-dd)"))),
        }
    };
    let to = date(&q.to, today(off))?;
    let from = date(&q.from, to - Days::days(29))?;
    if from > to || (to - from).num_days() > 3700 {
        return Err(WebError::BadRequest(
            "the period must run forward, at most ten years".into(),
        ));
    }
    Ok(Period {
        from,
        to,
        by_month: q.by.as_deref() == Some("month"),
        branch,
    })
}

async fn counts(st: &WebState, p: &Period) -> Result<Vec<DayCount>, WebError> {
    let off = st.ctx.utc_offset_min;
    let from = local_midnight_ms(p.from, off);
    let to = local_midnight_ms(p.to + Days::days(1), off);
    let branch = p.branch.clone();
    st.reads
        .run(move |c| admin::day_counts(c, from, to, off, branch.as_deref()))
        .await
        .map_err(WebError::from)
}

fn query_string(p: &Period) -> String {
    format!(
        "from={}&to={}&branch={}&by={}",
        p.from,
        p.to,
        url_enc(p.branch.as_deref().unwrap_or("")),
        if p.by_month { "month" } else { "day" }
    )
}

/// `GET /admin/stats?from=&to=&branch=&by=day|month`.
#[tracing::instrument(skip_all)]
pub async fn page_route(
    State(st): State<WebState>,
    s: Session,
    Query(q): Query<StatsQuery>,
) -> Page {
    let lang = s.lang;
    let p = period(&q, s.scope(q.branch.as_deref())?, st.ctx.utc_offset_min)?;
    let rows = counts(&st, &p).await?;
    let off = st.ctx.utc_offset_min;
    let (from, to) = (
        local_midnight_ms(p.from, off),
        local_midnight_ms(p.to + Days::days(1), off),
    );
    let br = p.branch.clone();
    let (top, branches) = st
        .reads
        .run(move |c| {
            Ok((
                admin::top_titles(c, from, to, br.as_deref(), 10)?,
                central_store::snapshot::branch_ids(c)?
                    .into_iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    let table = aggregate(&rows, p.by_month);
    // Chart: totals per period across the branches shown.
    let mut per_period: BTreeMap<String, Counts> = BTreeMap::new();
    for ((period, _), c) in &table {
        let e = per_period.entry(period.clone()).or_default();
        for i in 0..4 {
            e[i] += c[i];
        }
    }
    // Every day (or month) of the period, with or without activity.
    let mut cats: Vec<String> = Vec::new();
    let mut d = p.from;
    while d <= p.to && cats.len() < 400 {
        let key = if p.by_month {
            d.format("%Y-%m").to_string()
        } else {
            d.to_string()
        };
        if cats.last() != Some(&key) {
            cats.push(key);
        }
        d += Days::days(1);
    }
    let series: Vec<Series> = KINDS
        .iter()
        .enumerate()
        .map(|(i, (_, key, color))| Series {
            label: lang.t(key).to_owned(),
            color,
            values: cats
                .iter()
                .map(|k| per_period.get(k).map(|c| c[i]).unwrap_or(0))
                .collect(),
        })
        .collect();

    let mut b = format!("<h1>{}</h1>", lang.t("stats"));
    let _ = write!(
        b,
        "<form class=\"filters\" method=\"get\" action=\"/admin/stats\">\
         <label>{}<input type=\"date\" name=\"from\" value=\"{}\"></label><label>{}<input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <label>{}<select name=\"branch\">",
        lang.t("from"),
        p.from,
        lang.t("to"),
        p.to,
        lang.t("branch"),
    );
    b.push_str(&s.branch_options(&branches, p.branch.as_ref()));
    let _ = write!(
        b,
        "</select></label><label>{}<select name=\"by\"><option value=\"day\"{}>{}</option><option value=\"month\"{}>{}</option></select></label>\
         <button>{}</button><a class=\"button\" id=\"csv\" href=\"/admin/stats.csv?{}\">{}</a></form>",
        lang.t("period"),
        if p.by_month { "" } else { " selected" },
        lang.t("by_day"),
        if p.by_month { " selected" } else { "" },
        lang.t("by_month"),
        lang.t("show"),
        esc(&query_string(&p)),
        lang.t("csv"),
    );
    let mut totals: Counts = [0; 4];
    for c in table.values() {
        for i in 0..4 {
            totals[i] += c[i];
        }
    }
    b.push_str("<div class=\"summary\">");
    for (i, (_, key, _)) in KINDS.iter().enumerate() {
        let _ = write!(
            b,
            "<div class=\"card\" id=\"total-{key}\"><div class=\"n\">{}</div>{}</div>",
            totals[i],
            lang.t(key)
        );
    }
    b.push_str("</div>");
    b.push_str(&bars(&cats, &series, lang.t("stats")));
    let _ = write!(
        b,
        "<div class=\"grid\"><div><h2>{} · {}</h2><table class=\"stack\" id=\"stats-table\"><thead><tr><th>{}</th><th>{}</th>",
        lang.t("stats"),
        lang.t(if p.by_month { "by_month" } else { "by_day" }),
        lang.t("period"),
        lang.t("branch"),
    );
    for (_, key, _) in KINDS {
        let _ = write!(b, "<th class=\"num\">{}</th>", lang.t(key));
    }
    b.push_str("</tr></thead><tbody>");
    for ((period, branch), c) in table.iter().rev() {
        let _ = write!(
            b,
            "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td>",
            lang.t("period"),
            esc(period),
            lang.t("branch"),
            esc(branch)
        );
        for (i, (_, key, _)) in KINDS.iter().enumerate() {
            let _ = write!(
                b,
                "<td data-label=\"{}\" class=\"num\">{}</td>",
                lang.t(key),
                c[i]
            );
        }
        b.push_str("</tr>");
    }
    if table.is_empty() {
        b.push_str(&none_row(lang, 6));
    }
    let _ = write!(
        b,
        "</tbody></table></div><div><h2>{}</h2><table class=\"stack\" id=\"top-titles\"><thead><tr><th>{}</th><th class=\"num\">{}</th></tr></thead><tbody>",
        lang.t("top_titles"),
        lang.t("title"),
        lang.t("loans")
    );
    for t in &top {
        let _ = write!(
            b,
            "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"num\">{}</td></tr>",
            lang.t("title"),
            esc(&t.title),
            lang.t("loans"),
            t.count
        );
    }
    if top.is_empty() {
        b.push_str(&none_row(lang, 2));
    }
    b.push_str("</tbody></table></div></div>");
    Ok(s.page(lang.t("stats"), "stats", &b))
}

/// `GET /admin/stats.csv?…`: `period,branch,loans,returns,renewals,visits`, one row per
/// period and branch.
#[tracing::instrument(skip_all)]
pub async fn csv(State(st): State<WebState>, s: Session, Query(q): Query<StatsQuery>) -> Page {
    let p = period(&q, s.scope(q.branch.as_deref())?, st.ctx.utc_offset_min)?;
    let rows = counts(&st, &p).await?;
    let mut out = String::from("period,branch,loans,returns,renewals,visits\n");
    for ((period, branch), c) in aggregate(&rows, p.by_month) {
        let _ = writeln!(out, "{period},{branch},{},{},{},{}", c[0], c[1], c[2], c[3]);
    }
    let name = format!("rong-stats-{}-{}.csv", p.from, p.to);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// Query of the yearly report.
#[derive(Debug, Deserialize, Default)]
pub struct ReportQuery {
    year: Option<i32>,
}

fn pct(lang: Lang, before: u64, now: u64) -> String {
    match change_pct(before, now) {
        Some(p) if p >= 0.0 => format!("<span class=\"up\">+{p:.1}%</span>"),
        Some(p) => format!("<span class=\"down\">{p:.1}%</span>"),
        None => format!(
            "<span class=\"muted\">{}</span>",
            if lang == Lang::Vi { "mới" } else { "new" }
        ),
    }
}

/// `GET /admin/report?year=`: visits and circulation per branch against the year before.
#[tracing::instrument(skip_all)]
pub async fn report(State(st): State<WebState>, s: Session, Query(q): Query<ReportQuery>) -> Page {
    let lang = s.lang;
    let off = st.ctx.utc_offset_min;
    let year = q.year.unwrap_or_else(|| today(off).year());
    let bounds = |y: i32| -> Result<(NaiveDate, NaiveDate), WebError> {
        Ok((
            NaiveDate::from_ymd_opt(y, 1, 1)
                .ok_or_else(|| WebError::BadRequest("bad year".into()))?,
            NaiveDate::from_ymd_opt(y, 12, 31)
                .ok_or_else(|| WebError::BadRequest("bad year".into()))?,
        ))
    };
    let branch = s.scope(None)?;
    let (a, b2) = bounds(year)?;
    let (pa, pb) = bounds(year - 1)?;
    let this = counts(
        &st,
        &Period {
            from: a,
            to: b2,
            by_month: false,
            branch: branch.clone(),
        },
    )
    .await?;
    let prev = counts(
        &st,
        &Period {
            from: pa,
            to: pb,
            by_month: false,
            branch,
        },
    )
    .await?;
    let (this, prev) = (per_branch(&this), per_branch(&prev));
    let mut names: Vec<&String> = this.keys().chain(prev.keys()).collect();
    names.sort();
    names.dedup();
    let mut b = format!(
        "<h1>{} {year}</h1><form class=\"filters\" method=\"get\" action=\"/admin/report\"><label>{}<input type=\"number\" name=\"year\" value=\"{year}\" min=\"2000\" max=\"2100\" style=\"width:7rem\"></label><button>{}</button></form>",
        lang.t("report"),
        lang.t("year"),
        lang.t("show"),
    );
    let _ = write!(
        b,
        "<div class=\"scroll\"><table class=\"stack\" id=\"report\"><thead><tr><th>{}</th><th class=\"num\">{} {year}</th><th class=\"num\">{} {}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{} {year}</th><th class=\"num\">{} {}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr></thead><tbody>",
        lang.t("branch"),
        lang.t("visits"),
        lang.t("visits"),
        year - 1,
        lang.t("change"),
        lang.t("circulation"),
        lang.t("circulation"),
        year - 1,
        lang.t("change"),
        lang.t("loans"),
        lang.t("returns"),
        lang.t("renewals"),
    );
    let zero: Counts = [0; 4];
    let mut tot_this: Counts = [0; 4];
    let mut tot_prev: Counts = [0; 4];
    let line = |b: &mut String, name: &str, t: &Counts, p: &Counts, id: &str| {
        let circ = t[0] + t[1] + t[2];
        let pcirc = p[0] + p[1] + p[2];
        let _ = write!(
            b,
            "<tr id=\"{id}\"><td data-label=\"{}\"><strong>{}</strong></td><td data-label=\"{} {year}\" class=\"num\">{}</td><td data-label=\"{} {}\" class=\"num\">{}</td><td data-label=\"{}\" class=\"num\">{}</td>\
             <td data-label=\"{} {year}\" class=\"num\">{circ}</td><td data-label=\"{} {}\" class=\"num\">{pcirc}</td><td data-label=\"{}\" class=\"num\">{}</td>\
             <td data-label=\"{}\" class=\"num\">{}</td><td data-label=\"{}\" class=\"num\">{}</td><td data-label=\"{}\" class=\"num\">{}</td></tr>",
            lang.t("branch"),
            esc(name),
            lang.t("visits"),
            t[3],
            lang.t("visits"),
            year - 1,
            p[3],
            lang.t("change"),
            pct(lang, p[3], t[3]),
            lang.t("circulation"),
            lang.t("circulation"),
            year - 1,
            lang.t("change"),
            pct(lang, pcirc, circ),
            lang.t("loans"),
            t[0],
            lang.t("returns"),
            t[1],
            lang.t("renewals"),
            t[2],
        );
    };
    for name in &names {
        let t = this.get(*name).unwrap_or(&zero);
        let p = prev.get(*name).unwrap_or(&zero);
        for i in 0..4 {
            tot_this[i] += t[i];
            tot_prev[i] += p[i];
        }
        line(&mut b, name, t, p, &format!("report-{}", esc(name)));
    }
    line(
        &mut b,
        lang.t("total"),
        &tot_this,
        &tot_prev,
        "report-total",
    );
    b.push_str("</tbody></table></div>");
    Ok(s.page(lang.t("report"), "report", &b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc(day: &str, branch: &str, kind: &str, count: u64) -> DayCount {
        DayCount {
            day: day.into(),
            branch: branch.into(),
            kind: kind.into(),
            count,
        }
    }

    #[test]
    fn aggregates_by_day_month_and_branch() {
        let rows = [
            dc("2026-01-05", "kontum", "checkout", 3),
            dc("2026-01-05", "kontum", "identify", 7),
            dc("2026-01-20", "kontum", "checkout", 2),
            dc("2026-02-01", "dakto", "checkin", 4),
            dc("2026-02-01", "dakto", "pin_locked", 9),
        ];
        let by_day = aggregate(&rows, false);
        assert_eq!(
            by_day[&("2026-01-05".into(), "kontum".into())],
            [3, 0, 0, 7]
        );
        let by_month = aggregate(&rows, true);
        assert_eq!(by_month[&("2026-01".into(), "kontum".into())], [5, 0, 0, 7]);
        assert_eq!(by_month[&("2026-02".into(), "dakto".into())], [0, 4, 0, 0]);
        assert_eq!(per_branch(&rows)["kontum"], [5, 0, 0, 7]);
        assert_eq!(change_pct(0, 5), None);
        assert_eq!(change_pct(200, 250), Some(25.0));
        assert_eq!(change_pct(200, 150), Some(-25.0));
    }

    #[test]
    fn midnight_in_the_library_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        // 00:00 in Việt Nam (UTC+7) is 17:00 UTC the day before.
        assert_eq!(
            local_midnight_ms(d, 420),
            chrono::DateTime::parse_from_rfc3339("2025-12-31T17:00:00Z")
                .unwrap()
                .timestamp_millis()
        );
    }
}
