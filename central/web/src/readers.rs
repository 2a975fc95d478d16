//! Readers in the dashboard (`/admin/readers`): search by card or name, register a reader,
//! change one, set a PIN, renew a membership. Branch staff work on their own branch's
//! readers; read-only users look; administrators see every branch. The devices get only
//! what lending needs (card, NFC cards, name, category, branch, expiry, whether a PIN is
//! needed); birth date, phone, e-mail and consent stay at central. Every change is audited
//! with the card masked.

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::html::{esc, form_errors, url_enc};
use super::{Page, Session, WebError, WebState};
use central_store::network::FieldError;
use central_store::readers::{self, Reader, ReaderInput};
use central_store::StoreError;
use rong_protocol::privacy::mask_card;

/// Results a search shows.
const SEARCH_LIMIT: usize = 50;

/// The search query.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// The reader form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct ReaderForm {
    csrf: Option<String>,
    #[serde(default)]
    card: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    nfc_uids: String,
    keep_history: Option<String>,
    pin_required: Option<String>,
    #[serde(default)]
    pin: String,
}

impl ReaderForm {
    fn input(&self) -> ReaderInput {
        ReaderInput {
            card: self.card.clone(),
            name: self.name.clone(),
            birth_date: self.birth_date.clone(),
            category: self.category.clone(),
            branch: self.branch.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            nfc_uids: self.nfc_uids.clone(),
            keep_history: self.keep_history.is_some(),
            pin_required: self.pin_required.is_some(),
        }
    }

    fn of(r: &Reader) -> ReaderForm {
        ReaderForm {
            card: r.patron.card.clone(),
            name: r.patron.name.clone(),
            birth_date: r.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            category: r.patron.category.clone(),
            branch: r.patron.branch.to_string(),
            phone: r.phone.clone().unwrap_or_default(),
            email: r.email.clone().unwrap_or_default(),
            nfc_uids: r.patron.nfc_uids.join(", "),
            keep_history: r.keep_history.then(|| "on".into()),
            pin_required: r.patron.pin_required.then(|| "on".into()),
            ..ReaderForm::default()
        }
    }
}

fn today(st: &WebState) -> NaiveDate {
    (chrono::Utc::now() + Duration::minutes(i64::from(st.ctx.utc_offset_min))).date_naive()
}

/// `GET /admin/readers?q=`: search.
#[tracing::instrument(skip_all)]
pub async fn search(State(st): State<WebState>, s: Session, Query(q): Query<SearchQuery>) -> Page {
    let lang = s.lang;
    let text = q.q.unwrap_or_default();
    let text: String = text.chars().take(100).collect();
    let scope = s.scope(None)?;
    let found = if text.trim().is_empty() {
        Vec::new()
    } else {
        let t = text.clone();
        st.reads
            .run(move |c| readers::search(c, &t, scope.as_deref(), SEARCH_LIMIT))
            .await?
    };
    let mut h = format!(
        "<h1>{}</h1><form method=\"get\" action=\"/admin/readers\" class=\"card\" id=\"reader-search\">\
         <label>{}<br><input name=\"q\" id=\"q\" value=\"{}\" maxlength=\"100\" autofocus></label> <button id=\"search\">{}</button></form>",
        lang.t("readers"),
        lang.t("reader_search_help"),
        esc(&text),
        lang.t("search"),
    );
    if s.access().may_lend() {
        let _ = write!(
            h,
            "<p><a class=\"button\" href=\"/admin/readers/new\" id=\"reader-new\">{}</a>",
            lang.t("reader_new"),
        );
        // A whole file of readers is the branch librarian's, not the counter's.
        if s.access().may_change() {
            let _ = write!(
                h,
                " <a class=\"button\" href=\"/admin/readers/import\" id=\"reader-import\">{}</a>",
                lang.t("import_readers")
            );
        }
        h.push_str("</p>");
    }
    if !text.trim().is_empty() {
        let _ = write!(
            h,
            "<table id=\"readers\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("card"),
            lang.t("name"),
            lang.t("category"),
            lang.t("branch"),
            lang.t("expires"),
        );
        if found.is_empty() {
            h.push_str(&super::html::none_row(lang, 5));
        }
        for p in &found {
            let _ = write!(
                h,
                "<tr data-card=\"{}\"><td><a href=\"/admin/readers/{}\">{}</a></td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.card),
                url_enc(&p.card),
                esc(&p.card),
                esc(&p.name),
                p.blocked
                    .as_deref()
                    .map(|b| format!(" <span class=\"badge bad\">{}: {}</span>", lang.t("blocked"), esc(b)))
                    .unwrap_or_default(),
                esc(&p.category),
                esc(p.branch.as_str()),
                p.expires.map(|d| d.to_string()).unwrap_or_default(),
            );
        }
        h.push_str("</tbody></table>");
    }
    Ok(s.page(lang.t("readers"), "readers", &h))
}

/// The categories and branches a form offers (a branch's staff: their own only).
pub(crate) async fn choices(
    st: &WebState,
    s: &Session,
) -> Result<(Vec<(String, String, u32)>, Vec<String>), WebError> {
    let (cats, branches) = st
        .reads
        .run(|c| {
            Ok((
                central_store::rules::categories(c)?,
                central_store::snapshot::branch_ids(c)?,
            ))
        })
        .await?;
    let cats = cats
        .into_iter()
        .map(|c| (c.category.id, c.category.name, c.membership_months))
        .collect();
    let branches = branches
        .into_iter()
        .map(|b| b.to_string())
        .filter(|b| s.access().may_see(Some(b)))
        .collect();
    Ok((cats, branches))
}

fn form_page(
    s: &Session,
    f: &ReaderForm,
    choices: &(Vec<(String, String, u32)>, Vec<String>),
    edit: Option<&Reader>,
    next_card: &str,
    errors: &[FieldError],
) -> Response {
    let lang = s.lang;
    let (cats, branches) = choices;
    let title = if edit.is_some() {
        lang.t("reader_edit")
    } else {
        lang.t("reader_new")
    };
    let action = edit.map_or("/admin/readers".to_owned(), |r| {
        format!("/admin/readers/{}", url_enc(&r.patron.card))
    });
    let text = |name: &str, label: &str, value: &str, kind: &str, extra: &str| {
        format!(
            "<label>{label}<br><input type=\"{kind}\" name=\"{name}\" id=\"{name}\" value=\"{}\"{extra}></label>",
            esc(value)
        )
    };
    let mut cat_opts = String::new();
    for (id, name, months) in cats {
        let sel = if *id == f.category { " selected" } else { "" };
        let _ = write!(
            cat_opts,
            "<option value=\"{}\"{sel}>{} ({months} {})</option>",
            esc(id),
            esc(name),
            lang.t("months")
        );
    }
    let mut branch_opts = String::new();
    for b in branches {
        let sel = if *b == f.branch { " selected" } else { "" };
        let _ = write!(branch_opts, "<option{sel}>{}</option>", esc(b));
    }
    let readonly = !s.access().may_lend();
    let mut h = format!(
        "<p><a href=\"/admin/readers\">← {}</a></p><h1>{}</h1>{}",
        lang.t("readers"),
        title,
        form_errors(lang, errors)
    );
    if let Some(r) = edit {
        let _ = write!(
            h,
            "<div class=\"card\" id=\"reader-state\"><p>{}: <strong id=\"reader-expires\">{}</strong>{}</p>",
            lang.t("expires"),
            r.patron.expires.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
            r.patron
                .blocked
                .as_deref()
                .map(|b| format!(" · <span class=\"badge bad\">{}: {}</span>", lang.t("blocked"), esc(b)))
                .unwrap_or_default()
        );
        if !readonly {
            let _ = write!(
                h,
                "<form method=\"post\" action=\"{}/renew\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button id=\"reader-renew\">{}</button></form>",
                esc(&action),
                esc(&s.csrf),
                lang.t("renew_membership")
            );
        }
        h.push_str("</div>");
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"{}\" class=\"card stack\" id=\"reader-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{}{}{}\
         <label>{}<br><select name=\"category\" id=\"category\">{cat_opts}</select></label>\
         <label>{}<br><select name=\"branch\" id=\"branch\">{branch_opts}</select></label>{}{}{}{}\
         <label><input type=\"checkbox\" name=\"keep_history\" id=\"keep_history\"{}> {}</label>\
         <label><input type=\"checkbox\" name=\"pin_required\" id=\"pin_required\"{}> {}</label>{}",
        esc(&action),
        esc(&s.csrf),
        if edit.is_some() {
            text("card", lang.t("card"), &f.card, "text", " readonly")
        } else {
            text("card", lang.t("card_help"), &f.card, "text", &format!(" maxlength=\"64\" placeholder=\"{}\"", esc(next_card)))
        },
        text("name", lang.t("name"), &f.name, "text", " maxlength=\"200\" required"),
        text("birth_date", lang.t("birth_date"), &f.birth_date, "date", ""),
        lang.t("category"),
        lang.t("branch"),
        text("phone", lang.t("phone"), &f.phone, "tel", " maxlength=\"20\""),
        text("email", lang.t("email"), &f.email, "email", " maxlength=\"200\""),
        text("nfc_uids", lang.t("nfc_uids"), &f.nfc_uids, "text", " maxlength=\"200\""),
        text("pin", lang.t("pin_set"), "", "password", " inputmode=\"numeric\" pattern=\"[0-9]{4,8}\" autocomplete=\"off\""),
        if f.keep_history.is_some() { " checked" } else { "" },
        lang.t("keep_history"),
        if f.pin_required.is_some() { " checked" } else { "" },
        lang.t("pin_required"),
        if readonly {
            String::new()
        } else {
            format!("<p><button id=\"reader-save\">{}</button></p>", lang.t("save"))
        },
    );
    h.push_str("</form>");
    let mut r = s.page(title, "readers", &h);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

/// `GET /admin/readers/new`.
#[tracing::instrument(skip_all)]
pub async fn new_form(State(st): State<WebState>, s: Session) -> Page {
    if !s.access().may_lend() {
        return Err(WebError::Forbidden(s.lang));
    }
    let ch = choices(&st, &s).await?;
    let next = st.reads.run(|c| readers::next_card(c)).await?;
    let f = ReaderForm {
        branch: s.branch.clone().unwrap_or_default(),
        category: "adult".into(),
        ..ReaderForm::default()
    };
    Ok(form_page(&s, &f, &ch, None, &next, &[]))
}

async fn load(st: &WebState, s: &Session, card: &str) -> Result<Reader, WebError> {
    let c = card.to_owned();
    let r = st
        .reads
        .run(move |conn| readers::reader(conn, &c))
        .await?
        .ok_or(WebError::NotFound(s.lang))?;
    s.may_see(Some(r.patron.branch.as_str()))?;
    Ok(r)
}

/// `GET /admin/readers/{card}`.
#[tracing::instrument(skip_all)]
pub async fn edit_form(State(st): State<WebState>, s: Session, Path(card): Path<String>) -> Page {
    let r = load(&st, &s, &card).await?;
    let ch = choices(&st, &s).await?;
    Ok(form_page(&s, &ReaderForm::of(&r), &ch, Some(&r), "", &[]))
}

fn check_pin(pin: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let pin = pin.trim();
    if pin.is_empty() {
        return None;
    }
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Some(pin.to_owned())
    } else {
        errors.push(FieldError {
            field: "pin",
            en: "A PIN has 4 to 8 digits".into(),
            vi: "Mã PIN có từ 4 đến 8 chữ số".into(),
        });
        None
    }
}

async fn save(st: &WebState, s: &Session, f: ReaderForm, old: Option<Reader>) -> Page {
    s.check_lend(f.csrf.as_deref())?;
    let ch = choices(st, s).await?;
    let next = st.reads.run(|c| readers::next_card(c)).await?;
    let mut input = f.input();
    if let Some(old) = &old {
        input.card = old.patron.card.clone();
    }
    let cats: Vec<String> = ch.0.iter().map(|c| c.0.clone()).collect();
    let today = today(st);
    let mut errors = Vec::new();
    let pin = check_pin(&f.pin, &mut errors);
    let reader = input
        .check(&next, &cats, &ch.1, today)
        .map_err(|mut e| errors.append(&mut e));
    let (Ok(mut reader), true) = (reader, errors.is_empty()) else {
        return Ok(form_page(s, &f, &ch, old.as_ref(), &next, &errors));
    };
    if old.is_none() {
        let months =
            ch.0.iter()
                .find(|c| c.0 == reader.patron.category)
                .map_or(12, |c| c.2);
        reader.patron.expires = Some(readers::membership_end(today, months));
    }
    let pin_hash = match pin {
        Some(p) => Some(super::login::hash_new_password(st, &p).await?),
        None => None,
    };
    let card = reader.patron.card.clone();
    match st
        .network
        .save_reader(reader, pin_hash, old.is_none())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(m)) => {
            let e = if m.contains("PIN") {
                FieldError {
                    field: "pin",
                    en: "A reader who must always type a PIN needs one".into(),
                    vi: "Bạn đọc luôn phải nhập mã PIN thì cần có mã PIN".into(),
                }
            } else {
                FieldError {
                    field: "card",
                    en: format!("Card {card} belongs to another reader"),
                    vi: format!("Thẻ {card} đã thuộc về bạn đọc khác"),
                }
            };
            return Ok(form_page(s, &f, &ch, old.as_ref(), &next, &[e]));
        }
        Err(e) => return Err(e.into()),
    }
    let action = if old.is_some() {
        "reader.update"
    } else {
        "reader.create"
    };
    let _ = st
        .writer
        .audit(s.entry(action, mask_card(&card)).branch(Some(&f.branch)))
        .await;
    Ok(Redirect::to(&format!("/admin/readers/{}", url_enc(&card))).into_response())
}

/// `POST /admin/readers`: registers a reader.
#[tracing::instrument(skip_all)]
pub async fn create(State(st): State<WebState>, s: Session, Form(f): Form<ReaderForm>) -> Page {
    s.may_see(Some(&f.branch))?;
    save(&st, &s, f, None).await
}

/// `POST /admin/readers/{card}`: changes a reader.
#[tracing::instrument(skip_all)]
pub async fn update(
    State(st): State<WebState>,
    s: Session,
    Path(card): Path<String>,
    Form(f): Form<ReaderForm>,
) -> Page {
    let old = load(&st, &s, &card).await?;
    s.may_see(Some(&f.branch))?;
    save(&st, &s, f, Some(old)).await
}

/// The renewal form: its CSRF token only.
#[derive(Debug, Deserialize)]
pub struct RenewForm {
    csrf: Option<String>,
}

/// `POST /admin/readers/{card}/renew`: a membership as long as the category's, counted from
/// today or from the current expiry, whichever is later.
#[tracing::instrument(skip_all)]
pub async fn renew(
    State(st): State<WebState>,
    s: Session,
    Path(card): Path<String>,
    Form(f): Form<RenewForm>,
) -> Page {
    s.check_lend(f.csrf.as_deref())?;
    let r = load(&st, &s, &card).await?;
    let (cats, _) = choices(&st, &s).await?;
    let months = cats
        .iter()
        .find(|c| c.0 == r.patron.category)
        .map_or(12, |c| c.2);
    let from = r.patron.expires.map_or(today(&st), |e| e.max(today(&st)));
    let until = readers::membership_end(from, months);
    st.network.renew_membership(card.clone(), until).await?;
    let _ = st
        .writer
        .audit(
            s.entry("reader.renew", mask_card(&card))
                .branch(Some(r.patron.branch.as_str()))
                .detail(format!("until {until}")),
        )
        .await;
    Ok(Redirect::to(&format!("/admin/readers/{}", url_enc(&card))).into_response())
}
