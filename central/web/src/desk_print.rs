//! What the circulation desk prints: a reader's receipt of today's loans, and the transfer
//! slip that travels in a book going home to its branch. Both are pages with a print
//! stylesheet (the menu and buttons are left out), printed from the browser or saved as PDF
//! from its print dialog.

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use chrono::Duration;
use serde::Deserialize;

use super::desk::{day, desk_branch, scanned, today};
use super::html::esc;
use super::{Page, Session, WebError, WebState};
use central_store::desk;
use rong_protocol::privacy::mask_card;

/// The receipt's query.
#[derive(Debug, Default, Deserialize)]
pub struct ReceiptQuery {
    at: Option<String>,
    card: Option<String>,
}

/// `GET /admin/desk/receipt?at=&card=`: today's loans of the reader at this branch, to
/// print (or save as PDF): the masked card, each title with its due date.
#[tracing::instrument(skip_all)]
pub async fn receipt(
    State(st): State<WebState>,
    s: Session,
    Query(q): Query<ReceiptQuery>,
) -> Page {
    let lang = s.lang;
    let Some(at) = desk_branch(&s, q.at.as_deref())? else {
        return Err(WebError::BadRequest("no desk branch".into()));
    };
    let card = scanned(q.card.as_deref().unwrap_or_default())?;
    let today = today(&st);
    let since = (today.and_hms_opt(0, 0, 0).unwrap_or_default()
        - Duration::minutes(i64::from(st.ctx.utc_offset_min)))
    .and_utc()
    .timestamp_millis();
    let (c, b) = (card.clone(), at.clone());
    let (name, loans) = st
        .reads
        .run(move |conn| {
            let p = desk::find_patron(conn, &c)?
                .ok_or_else(|| central_store::StoreError::NotFound(format!("patron {c}")))?;
            let loans = desk::lent_since(conn, &p.card, &b, since)?;
            Ok((p.name, loans))
        })
        .await?;
    let mut h = format!(
        "<article class=\"receipt\" id=\"receipt\"><h1>{}</h1><p>{} · {}</p><p>{}: {} · {}</p><ol>",
        lang.t("receipt"),
        esc(&at),
        day(lang, today),
        lang.t("card"),
        esc(&mask_card(&card)),
        esc(&first_name(&name)),
    );
    for l in &loans {
        let _ = write!(
            h,
            "<li>{} <span class=\"muted\">{}</span><br>{} <strong>{}</strong></li>",
            esc(&l.title),
            esc(&l.item),
            lang.t("due_on"),
            day(lang, l.due),
        );
    }
    let _ = write!(
        h,
        "</ol><p class=\"muted\">{}</p></article><p class=\"noprint\"><button onclick=\"print()\" id=\"receipt-print\">{}</button></p>",
        lang.t("receipt_thanks"),
        lang.t("print"),
    );
    Ok(s.page(lang.t("receipt"), "desk", &h))
}

/// The reader's name as a receipt shows it: the given name (the last word, as Vietnamese
/// names are written) with the others reduced to initials.
fn first_name(full: &str) -> String {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.split_last() {
        Some((last, rest)) => {
            let mut out: String = rest
                .iter()
                .filter_map(|w| w.chars().next())
                .map(|c| format!("{c}. "))
                .collect();
            out.push_str(last);
            out
        }
        None => String::new(),
    }
}

/// `GET /admin/desk/slip/{item}`: the transfer slip of an item in transit, to print and
/// put in the book: where it goes, from where, when, and its call number.
#[tracing::instrument(skip_all)]
pub async fn slip(State(st): State<WebState>, s: Session, Path(item): Path<String>) -> Page {
    let lang = s.lang;
    desk_branch(&s, None)?;
    let item = scanned(&item)?;
    let t = st
        .reads
        .run(move |c| desk::transfer(c, &item))
        .await?
        .ok_or(WebError::NotFound(lang))?;
    if !(s.access().may_see(Some(&t.from_branch)) || s.access().may_see(Some(&t.to_branch))) {
        return Err(WebError::Forbidden(lang));
    }
    let h = format!(
        "<article class=\"slip\" id=\"slip\"><h1>{}</h1><p class=\"to\">{} <strong id=\"slip-to\">{}</strong></p>\
         <dl class=\"kv\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"slip-item\">{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl></article>\
         <p class=\"noprint\"><button onclick=\"print()\" id=\"slip-print\">{}</button></p>",
        lang.t("slip"),
        lang.t("slip_to"),
        esc(&t.to_branch),
        lang.t("slip_from"),
        esc(&t.from_branch),
        lang.t("item"),
        esc(&t.item),
        lang.t("title"),
        esc(&t.title),
        lang.t("call_number"),
        esc(&t.call_number),
        lang.t("slip_sent"),
        esc(&super::html::datetime(t.sent_at, st.ctx.utc_offset_min)),
        lang.t("print"),
    );
    Ok(s.page(lang.t("slip"), "desk", &h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_names_the_reader_by_the_given_name_only() {
        assert_eq!(first_name("Nguyễn Thị Hoa"), "N. T. Hoa");
        assert_eq!(first_name("Hoa"), "Hoa");
        assert_eq!(first_name("  "), "");
    }
}
