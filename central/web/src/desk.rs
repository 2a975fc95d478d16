//! The circulation desk (`/admin/desk`): the counter where staff lend, take back and
//! renew with a USB barcode scanner. A scanner of that kind types the code and Enter, so
//! every step is one form with one focused field, and the page works with no script.
//!
//! - Scan a card (or an NFC card's UID, or type a name to search), then scan items to lend.
//! - Scan items in the return field to take them back: an item of another branch goes into
//!   transit home, with a slip to print (`/admin/desk/slip/{item}`).
//! - Renew from the reader's list of loans; overdue loans are marked.
//! - A refusal a person may judge (a blocked or expired card, the loan limit, an item not
//!   for loan, the renewal limit) can be overridden with a reason, kept on the loan and in
//!   the audit log.
//! - A receipt of today's loans prints from `/admin/desk/receipt` (or saves as PDF from the
//!   browser's print dialog); see [`super::desk_print`].
//!
//! The decisions are central's, by the kiosks' own functions ([`central_store::desk`]).
//! Branch librarians and circulation staff work at their own branch's desk; administrators
//! choose the branch. Any valid card of the network may borrow (as at a kiosk), but a
//! reader's loan history shows only to staff of the reader's branch, and only with the
//! reader's consent.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Form;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::html::{esc, url_enc};
use super::i18n::Lang;
use super::{Page, Session, WebError, WebState};
use central_store::desk::{self, DeskAct, DeskAt, DeskDone, DeskLoan, MAX_REASON_CHARS};
use central_store::readers::{self, Reader};
use rong_protocol::api::ErrorCode;
use rong_protocol::limits::MAX_CODE_CHARS;
use rong_protocol::privacy::mask_card;

/// Returned loans the history shows.
const HISTORY_ROWS: u32 = 50;
/// Readers a name search shows.
const NAME_MATCHES: usize = 20;
/// The longest name search.
const MAX_QUERY_CHARS: usize = 100;

/// The desk page's query: the branch (administrators), the reader, the field to focus.
#[derive(Debug, Default, Deserialize)]
pub struct DeskQuery {
    at: Option<String>,
    card: Option<String>,
    mode: Option<String>,
}

/// A desk form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct DeskForm {
    csrf: Option<String>,
    #[serde(default)]
    at: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    reason: String,
}

/// A date as the library writes it: dd/mm/yyyy in Vietnamese, yyyy-mm-dd in English.
pub fn day(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

pub(crate) fn today(st: &WebState) -> NaiveDate {
    (chrono::Utc::now() + Duration::minutes(i64::from(st.ctx.utc_offset_min))).date_naive()
}

/// The staff-facing words for a refusal.
fn refusal_words(lang: Lang, code: ErrorCode) -> &'static str {
    lang.t(match code {
        ErrorCode::UnknownPatron => "desk_unknown_patron",
        ErrorCode::UnknownItem => "desk_unknown_item",
        ErrorCode::PatronBlocked => "desk_blocked",
        ErrorCode::CardExpired => "desk_expired",
        ErrorCode::LoanLimit => "desk_loan_limit",
        ErrorCode::AlreadyOnLoan => "desk_already",
        ErrorCode::NotForLoan => "desk_not_for_loan",
        ErrorCode::NotOnLoan => "desk_not_on_loan",
        ErrorCode::RenewLimit => "desk_renew_limit",
        ErrorCode::Overdue => "desk_overdue_renew",
        _ => "desk_refused",
    })
}

/// The desk's branch for this user: their own, or for administrators the one asked for
/// (none yet: they choose). Another branch than a branch user's own is 403; a user who may
/// not lend is 403.
pub(crate) fn desk_branch(s: &Session, asked: Option<&str>) -> Result<Option<String>, WebError> {
    if !s.access().may_lend() {
        return Err(WebError::Forbidden(s.lang));
    }
    s.scope(asked.filter(|a| !a.is_empty()))
}

/// A scanned code, trimmed; too long or with control characters is a bad request.
pub(crate) fn scanned(code: &str) -> Result<String, WebError> {
    let c = code.trim();
    if c.chars().count() > MAX_CODE_CHARS || c.chars().any(char::is_control) {
        return Err(WebError::BadRequest(format!(
            "a scanned code has at most {MAX_CODE_CHARS} characters and no control characters"
        )));
    }
    Ok(c.to_owned())
}

/// What the page shows about the last act.
struct Outcome {
    act: &'static str,
    done: DeskDone,
    card: String,
}

async fn render(
    st: &WebState,
    s: &Session,
    at: Option<String>,
    card: Option<String>,
    mode: Option<&str>,
    outcome: Option<Outcome>,
) -> Page {
    let lang = s.lang;
    let Some(at) = at else {
        return choose_branch(st, s).await;
    };
    let today = today(st);
    let card = card
        .map(|c| scanned(&c))
        .transpose()?
        .filter(|c| !c.is_empty());
    let (reader, matches) = match &card {
        Some(c) => {
            let (c, scope) = (c.clone(), s.scope(None)?);
            st.reads
                .run(move |conn| {
                    let found = desk::find_patron(conn, &c)?;
                    let reader = match found {
                        Some(p) => {
                            let r = readers::reader(conn, &p.card)?;
                            r.map(|r| -> Result<_, central_store::StoreError> {
                                let history = r.keep_history
                                    && scope
                                        .as_deref()
                                        .is_none_or(|b| b == r.patron.branch.as_str());
                                let loans = desk::reader_loans(
                                    conn,
                                    &r.patron.card,
                                    history,
                                    HISTORY_ROWS,
                                )?;
                                Ok((r, history, loans))
                            })
                            .transpose()?
                        }
                        None => None,
                    };
                    let matches = if reader.is_none() {
                        let q: String = c.chars().take(MAX_QUERY_CHARS).collect();
                        readers::search(conn, &q, scope.as_deref(), NAME_MATCHES)?
                    } else {
                        Vec::new()
                    };
                    Ok((reader, matches))
                })
                .await?
        }
        None => (None, Vec::new()),
    };
    let mut h = format!("<h1>{} · {}</h1>", lang.t("desk"), esc(&at));
    if s.branch.is_none() {
        let _ = write!(
            h,
            "<p class=\"noprint\"><a href=\"/admin/desk\" id=\"desk-other-branch\">{}</a></p>",
            lang.t("desk_other_branch")
        );
    }
    if let Some(o) = &outcome {
        outcome_card(&mut h, s, &at, o, today);
    }
    let focus_return = mode == Some("return");
    h.push_str("<div class=\"grid\">");
    // The reader's side.
    h.push_str("<section class=\"card\" id=\"desk-reader\">");
    match &reader {
        Some((r, history, (active, past))) => {
            let view = ReaderView {
                reader: r,
                history: *history,
                active,
                past,
                today,
                utc_offset_min: st.ctx.utc_offset_min,
                focus_return,
            };
            reader_panel(&mut h, s, &at, &view);
        }
        None => {
            let _ = write!(
                h,
                "<h2>{}</h2><form method=\"get\" action=\"/admin/desk\" id=\"desk-card-form\">\
                 <input type=\"hidden\" name=\"at\" value=\"{}\">\
                 <label>{}<br><input name=\"card\" id=\"desk-card\" maxlength=\"{MAX_QUERY_CHARS}\" autocomplete=\"off\"{}></label> \
                 <button id=\"desk-card-go\">{}</button></form>",
                lang.t("desk_reader"),
                esc(&at),
                lang.t("desk_card_help"),
                if focus_return { "" } else { " autofocus" },
                lang.t("desk_find"),
            );
            if let Some(c) = &card {
                if matches.is_empty() {
                    let _ = write!(
                        h,
                        "<p class=\"err\" id=\"desk-no-reader\">{}: {}</p>",
                        lang.t("desk_unknown_patron"),
                        esc(c)
                    );
                } else {
                    let _ = write!(h, "<ul id=\"desk-matches\">");
                    for m in &matches {
                        let _ = write!(
                            h,
                            "<li><a href=\"/admin/desk?at={}&amp;card={}\">{}</a> · {} · {}</li>",
                            url_enc(&at),
                            url_enc(&m.card),
                            esc(&m.name),
                            esc(&m.card),
                            esc(m.branch.as_str())
                        );
                    }
                    h.push_str("</ul>");
                }
            }
        }
    }
    h.push_str("</section>");
    // The return side.
    let _ = write!(
        h,
        "<section class=\"card\" id=\"desk-returns\"><h2>{}</h2>\
         <form method=\"post\" action=\"/admin/desk/return\" id=\"desk-return-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"at\" value=\"{}\">\
         <input type=\"hidden\" name=\"card\" value=\"{}\">\
         <label>{}<br><input name=\"item\" id=\"desk-return\" maxlength=\"{MAX_CODE_CHARS}\" autocomplete=\"off\"{}></label> \
         <button id=\"desk-return-go\">{}</button></form>\
         <p class=\"muted\">{}</p></section>",
        lang.t("desk_returns"),
        esc(&s.csrf),
        esc(&at),
        esc(&reader.as_ref().map(|r| r.0.patron.card.clone()).unwrap_or_default()),
        lang.t("desk_item_help"),
        if focus_return { " autofocus" } else { "" },
        lang.t("desk_return_go"),
        lang.t("desk_return_help"),
    );
    h.push_str("</div>");
    let mut r = s.page(lang.t("desk"), "desk", &h);
    if outcome.as_ref().is_some_and(|o| o.done.refused.is_some()) {
        *r.status_mut() = StatusCode::CONFLICT;
    }
    Ok(r)
}

async fn choose_branch(st: &WebState, s: &Session) -> Page {
    let lang = s.lang;
    let ids = st
        .reads
        .run(|c| central_store::snapshot::branch_ids(c))
        .await?;
    let mut options = String::new();
    for b in &ids {
        let _ = write!(options, "<option>{}</option>", esc(b.as_str()));
    }
    let h = format!(
        "<h1>{}</h1><form method=\"get\" action=\"/admin/desk\" class=\"card\" id=\"desk-pick\">\
         <label>{}<br><select name=\"at\" id=\"desk-at\">{options}</select></label> <button id=\"desk-at-go\">{}</button></form>",
        lang.t("desk"),
        lang.t("desk_choose_branch"),
        lang.t("desk_open"),
    );
    Ok(s.page(lang.t("desk"), "desk", &h))
}

fn outcome_card(h: &mut String, s: &Session, at: &str, o: &Outcome, today: NaiveDate) {
    let lang = s.lang;
    let d = &o.done;
    let what = if d.title.is_empty() {
        esc(&d.item)
    } else {
        format!("{} · {}", esc(&d.item), esc(&d.title))
    };
    if let Some(r) = &d.refused {
        let _ = write!(
            h,
            "<div class=\"card refused\" id=\"desk-result\" role=\"alert\"><p class=\"err\" id=\"desk-refusal\" data-code=\"{:?}\">{}</p><p>{what}</p>",
            r.code,
            refusal_words(lang, r.code),
        );
        if !r.detail.is_empty() {
            let _ = write!(h, "<p class=\"muted\">{}</p>", esc(&r.detail));
        }
        if d.overridable && s.access().may_lend() {
            let action = if o.act == "renew" { "renew" } else { "lend" };
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/admin/desk/{action}\" id=\"desk-override\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"at\" value=\"{}\">\
                 <input type=\"hidden\" name=\"card\" value=\"{}\"><input type=\"hidden\" name=\"item\" value=\"{}\">\
                 <label>{}<br><input name=\"reason\" id=\"desk-reason\" maxlength=\"{MAX_REASON_CHARS}\" required autocomplete=\"off\"></label> \
                 <button id=\"desk-override-go\">{}</button></form>",
                esc(&s.csrf),
                esc(at),
                esc(&o.card),
                esc(&d.item),
                lang.t("desk_override_reason"),
                lang.t("desk_override"),
            );
        }
        h.push_str("</div>");
        return;
    }
    h.push_str("<div class=\"card done\" id=\"desk-result\" role=\"status\">");
    match o.act {
        "lend" | "renew" => {
            let due = d.due.unwrap_or(today);
            let _ = write!(
                h,
                "<p class=\"up\" id=\"desk-done\">{} {what}</p><p>{} <strong id=\"desk-due\">{}</strong></p>",
                lang.t(if o.act == "lend" { "desk_lent" } else { "desk_renewed" }),
                lang.t("due_on"),
                day(lang, due),
            );
            if d.overridden {
                let _ = write!(
                    h,
                    "<p class=\"muted\" id=\"desk-overridden\">{}</p>",
                    lang.t("desk_overridden")
                );
            }
            if let Some(prev) = &d.previous_patron {
                let _ = write!(
                    h,
                    "<p class=\"muted\">{} {}</p>",
                    lang.t("desk_missed_return"),
                    esc(&mask_card(prev))
                );
            }
        }
        _ => {
            let _ = write!(
                h,
                "<p class=\"up\" id=\"desk-done\">{} {what}</p>",
                lang.t("desk_returned")
            );
            if d.patron.is_none() {
                let _ = write!(
                    h,
                    "<p class=\"muted\">{}</p>",
                    lang.t("desk_was_not_on_loan")
                );
            }
            if let Some(to) = &d.transfer_to {
                let _ = write!(
                    h,
                    "<p class=\"err\" id=\"desk-transit\">{} <strong>{}</strong></p>\
                     <p><a class=\"button\" id=\"desk-slip\" target=\"_blank\" href=\"/admin/desk/slip/{}\">{}</a></p>",
                    lang.t("desk_in_transit"),
                    esc(to),
                    url_enc(&d.item),
                    lang.t("desk_print_slip"),
                );
            }
        }
    }
    if d.received {
        let _ = write!(
            h,
            "<p class=\"up\" id=\"desk-received\">{}</p>",
            lang.t("desk_received")
        );
    }
    h.push_str("</div>");
}

/// A reader at the desk, with their loans.
struct ReaderView<'a> {
    reader: &'a Reader,
    history: bool,
    active: &'a [DeskLoan],
    past: &'a [DeskLoan],
    today: NaiveDate,
    utc_offset_min: i32,
    focus_return: bool,
}

fn reader_panel(h: &mut String, s: &Session, at: &str, v: &ReaderView<'_>) {
    let lang = s.lang;
    let (p, today, active, past) = (&v.reader.patron, v.today, v.active, v.past);
    let _ = write!(
        h,
        "<h2 id=\"desk-reader-name\">{}</h2><dl class=\"kv\"><dt>{}</dt><dd id=\"desk-reader-card\">{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        esc(&p.name),
        lang.t("card"),
        esc(&p.card),
        lang.t("category"),
        esc(&p.category),
        lang.t("branch"),
        esc(p.branch.as_str()),
        lang.t("expires"),
        p.expires.map(|e| day(lang, e)).unwrap_or_else(|| "—".into()),
    );
    if let Some(why) = &p.blocked {
        let _ = write!(
            h,
            "<p class=\"err\" id=\"desk-blocked\">{}: {}</p>",
            lang.t("desk_blocked"),
            esc(why)
        );
    }
    if p.expires.is_some_and(|e| e < today) {
        let _ = write!(h, "<p class=\"err\">{}</p>", lang.t("desk_expired"));
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/admin/desk/lend\" id=\"desk-lend-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"at\" value=\"{}\">\
         <input type=\"hidden\" name=\"card\" value=\"{}\">\
         <label>{}<br><input name=\"item\" id=\"desk-item\" maxlength=\"{MAX_CODE_CHARS}\" autocomplete=\"off\"{}></label> \
         <button id=\"desk-lend-go\">{}</button></form>\
         <p class=\"noprint\"><a class=\"button\" id=\"desk-receipt\" target=\"_blank\" href=\"/admin/desk/receipt?at={}&amp;card={}\">{}</a> \
         <a href=\"/admin/desk?at={}\" id=\"desk-next\">{}</a></p>",
        esc(&s.csrf),
        esc(at),
        esc(&p.card),
        lang.t("desk_lend_help"),
        if v.focus_return { "" } else { " autofocus" },
        lang.t("desk_lend"),
        url_enc(at),
        url_enc(&p.card),
        lang.t("desk_print_receipt"),
        url_enc(at),
        lang.t("desk_next_reader"),
    );
    let _ = write!(
        h,
        "<h3>{} ({})</h3><table class=\"stack\" id=\"desk-loans\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        lang.t("desk_loans"),
        active.len(),
        lang.t("item"),
        lang.t("title"),
        lang.t("due_on"),
        lang.t("renewals"),
    );
    if active.is_empty() {
        h.push_str(&super::html::none_row(lang, 5));
    }
    for l in active {
        let late = l.due < today;
        let _ = write!(
            h,
            "<tr{}><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}{}</td><td data-label=\"{}\" class=\"num\">{}</td>\
             <td><form method=\"post\" action=\"/admin/desk/renew\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"at\" value=\"{}\"><input type=\"hidden\" name=\"card\" value=\"{}\">\
             <input type=\"hidden\" name=\"item\" value=\"{}\"><button class=\"secondary\" id=\"desk-renew-{}\">{}</button></form></td></tr>",
            if late { " class=\"late\"" } else { "" },
            lang.t("item"),
            esc(&l.item),
            lang.t("title"),
            esc(&l.title),
            lang.t("due_on"),
            day(lang, l.due),
            if late {
                format!(
                    " <span class=\"badge b-error\">{} {}</span>",
                    lang.t("overdue"),
                    desk::days_between(l.due, today)
                )
            } else {
                String::new()
            },
            lang.t("renewals"),
            l.renewals,
            esc(&s.csrf),
            esc(at),
            esc(&p.card),
            esc(&l.item),
            esc(&l.item),
            lang.t("renew"),
        );
    }
    h.push_str("</tbody></table>");
    if v.history {
        let _ = write!(
            h,
            "<h3>{}</h3><table class=\"stack\" id=\"desk-history\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("desk_history"),
            lang.t("item"),
            lang.t("title"),
            lang.t("desk_returned_on"),
        );
        if past.is_empty() {
            h.push_str(&super::html::none_row(lang, 3));
        }
        for l in past {
            let _ = write!(
                h,
                "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td></tr>",
                lang.t("item"),
                esc(&l.item),
                lang.t("title"),
                esc(&l.title),
                lang.t("desk_returned_on"),
                l.returned_at
                    .and_then(|ms| {
                        chrono::DateTime::from_timestamp_millis(
                            ms + i64::from(v.utc_offset_min) * 60_000,
                        )
                    })
                    .map(|t| day(lang, t.date_naive()))
                    .unwrap_or_default(),
            );
        }
        h.push_str("</tbody></table>");
    } else {
        let _ = write!(
            h,
            "<p class=\"muted\" id=\"desk-no-history\">{}</p>",
            lang.t("desk_no_history")
        );
    }
}

/// `GET /admin/desk?at=&card=&mode=`.
#[tracing::instrument(skip_all)]
pub async fn page(State(st): State<WebState>, s: Session, Query(q): Query<DeskQuery>) -> Page {
    let at = desk_branch(&s, q.at.as_deref())?;
    render(&st, &s, at, q.card, q.mode.as_deref(), None).await
}

async fn act(st: &WebState, s: &Session, f: &DeskForm, what: &'static str) -> Page {
    s.check_lend(f.csrf.as_deref())?;
    let Some(at) = desk_branch(s, Some(&f.at))? else {
        return Err(WebError::BadRequest("no desk branch".into()));
    };
    let item = scanned(&f.item)?;
    let card = scanned(&f.card)?;
    if item.is_empty() {
        // An empty scan (Enter alone) changes nothing: back to the same page.
        return render(
            st,
            s,
            Some(at),
            Some(card).filter(|c| !c.is_empty()),
            None,
            None,
        )
        .await;
    }
    let reason = Some(f.reason.trim().to_owned()).filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(WebError::BadRequest(format!(
            "an override reason has at most {MAX_REASON_CHARS} characters"
        )));
    }
    let act = match what {
        "lend" => DeskAct::Lend {
            card: card.clone(),
            item: item.clone(),
            override_reason: reason.clone(),
        },
        "renew" => DeskAct::Renew {
            card: card.clone(),
            item: item.clone(),
            override_reason: reason.clone(),
        },
        _ => DeskAct::Return { item: item.clone() },
    };
    let desk_at = DeskAt {
        branch: at.clone(),
        staff: s.user.clone(),
        now_ms: chrono::Utc::now().timestamp_millis(),
        utc_offset_min: st.ctx.utc_offset_min,
    };
    let done = st.network.desk(desk_at, act).await?;
    if done.overridden {
        let code = reason.clone().unwrap_or_default();
        let entry = s
            .entry(&format!("loan.override_{what}"), item.clone())
            .branch(Some(&at))
            .detail(format!("card {}: {code}", mask_card(&card)));
        let _ = st.writer.audit(entry).await;
    }
    let mode = (what == "return").then_some("return");
    let card = Some(card).filter(|c| !c.is_empty());
    render(
        st,
        s,
        Some(at),
        card.clone(),
        mode,
        Some(Outcome {
            act: what,
            done,
            card: card.unwrap_or_default(),
        }),
    )
    .await
}

/// `POST /admin/desk/lend`: lends the scanned item to the reader.
#[tracing::instrument(skip_all)]
pub async fn lend(State(st): State<WebState>, s: Session, Form(f): Form<DeskForm>) -> Page {
    act(&st, &s, &f, "lend").await
}

/// `POST /admin/desk/return`: takes the scanned item back.
#[tracing::instrument(skip_all)]
pub async fn take_back(State(st): State<WebState>, s: Session, Form(f): Form<DeskForm>) -> Page {
    act(&st, &s, &f, "return").await
}

/// `POST /admin/desk/renew`: renews one of the reader's loans.
#[tracing::instrument(skip_all)]
pub async fn renew(State(st): State<WebState>, s: Session, Form(f): Form<DeskForm>) -> Page {
    act(&st, &s, &f, "renew").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_the_library_writes_them() {
        let d = NaiveDate::from_ymd_opt(2027, 2, 21).unwrap();
        assert_eq!(day(Lang::Vi, d), "21/02/2027");
        assert_eq!(day(Lang::En, d), "2027-02-21");
    }

    #[test]
    fn every_refusal_the_desk_can_meet_has_its_words() {
        use ErrorCode::*;
        for code in [
            UnknownPatron,
            UnknownItem,
            PatronBlocked,
            CardExpired,
            LoanLimit,
            AlreadyOnLoan,
            NotForLoan,
            NotOnLoan,
            RenewLimit,
            Overdue,
            Internal,
        ] {
            for lang in [Lang::Vi, Lang::En] {
                assert_ne!(refusal_words(lang, code), "?", "{code:?}");
            }
        }
    }

    #[test]
    fn a_scan_is_trimmed_and_bounded() {
        assert_eq!(scanned("  KT0001 \n").unwrap(), "KT0001");
        assert!(scanned(&"9".repeat(MAX_CODE_CHARS + 1)).is_err());
        assert!(scanned("KT\u{7}01").is_err());
    }
}
