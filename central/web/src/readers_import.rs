//! Readers from a spreadsheet in the dashboard (`/admin/readers/import`): a CSV file (or
//! pasted text) is checked in full and shown back as a preview, with every bad line and why;
//! only a file with no bad line can be imported, and then all of it at once or none of it.
//! Branch staff import their own branch's readers only. PINs are hashed on import.

use std::collections::HashSet;
use std::fmt::Write;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::esc;
use super::{Page, Session, WebError, WebState};
use central_store::readers_csv::{self, BadRow, Known, PatronRow, COLUMNS};
use central_store::{ImportedPatron, PatronUpsert};

/// The largest file taken (about 10,000 readers).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Rows the preview lists.
const PREVIEW_ROWS: usize = 20;

fn page(s: &Session, text: &str, body: &str, status: StatusCode) -> Response {
    let lang = s.lang;
    let h = format!(
        "<p><a href=\"/admin/readers\">← {}</a></p><h1>{}</h1>{body}\
         <form method=\"post\" action=\"/admin/readers/import\" enctype=\"multipart/form-data\" class=\"card stack\" id=\"import-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><p class=\"muted\">{}: {}</p>\
         <label>{}<br><input type=\"file\" name=\"file\" id=\"file\" accept=\".csv,text/csv\"></label>\
         <label>{}<br><textarea name=\"text\" id=\"text\" rows=\"8\" cols=\"80\">{}</textarea></label>\
         <p><button name=\"action\" value=\"check\" id=\"import-check\">{}</button></p></form>",
        lang.t("readers"),
        lang.t("import_readers"),
        esc(&s.csrf),
        lang.t("import_columns"),
        COLUMNS.join(", "),
        lang.t("import_file"),
        lang.t("import_text"),
        esc(text),
        lang.t("import_check"),
    );
    let mut r = s.page(lang.t("import_readers"), "readers", &h);
    *r.status_mut() = status;
    r
}

/// `GET /admin/readers/import`.
#[tracing::instrument(skip_all)]
pub async fn form(s: Session) -> Page {
    if !s.access().may_change() {
        return Err(WebError::Forbidden(s.lang));
    }
    Ok(page(&s, "", "", StatusCode::OK))
}

/// The posted form: its CSRF token, the file or the text, and what to do.
struct Posted {
    csrf: Option<String>,
    text: String,
    import: bool,
}

async fn read(m: Multipart) -> Result<Posted, WebError> {
    let mut p = Posted {
        csrf: None,
        text: String::new(),
        import: false,
    };
    let mut file = String::new();
    for (name, bytes) in super::multipart_fields(m, MAX_BYTES).await? {
        let text = String::from_utf8(bytes)
            .map_err(|_| WebError::BadRequest("the file is not UTF-8 text".into()))?;
        match name.as_str() {
            "csrf" => p.csrf = Some(text),
            "file" => file = text,
            "text" => p.text = text,
            "action" => p.import = text == "import",
            _ => {}
        }
    }
    if !file.trim().is_empty() {
        p.text = file;
    }
    Ok(p)
}

/// `POST /admin/readers/import`: checks (`action=check`) or imports (`action=import`).
#[tracing::instrument(skip_all)]
pub async fn post(State(st): State<WebState>, s: Session, m: Multipart) -> Page {
    let p = read(m).await?;
    s.check_change(p.csrf.as_deref())?;
    let lang = s.lang;
    // A branch's staff import their own branch's readers only.
    let (categories, branches) = super::readers::choices(&st, &s).await?;
    let known = Known {
        categories: categories.into_iter().map(|c| c.0).collect(),
        branches: branches.into_iter().collect::<HashSet<_>>(),
    };
    let (rows, bad) = match readers_csv::read_rows(p.text.as_bytes(), &known) {
        Ok(x) => x,
        Err(e) => {
            let body = format!(
                "<div class=\"card err\" id=\"import-errors\"><p>{}</p></div>",
                esc(&e.to_string())
            );
            return Ok(page(&s, &p.text, &body, StatusCode::BAD_REQUEST));
        }
    };
    if !p.import || !bad.is_empty() || rows.is_empty() {
        return Ok(preview(&s, &p.text, &rows, &bad));
    }
    let n = rows.len();
    let mut rows = rows;
    // argon2 for every PIN, spread over the cores, off the async threads.
    let rows = tokio::task::spawn_blocking(move || {
        readers_csv::hash_pins(&mut rows);
        rows
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?;
    let patrons: Vec<ImportedPatron> = rows
        .iter()
        .map(|r| ImportedPatron {
            patron: r.patron.clone(),
            pin_hash: r.pin_hash.clone(),
        })
        .collect();
    let out = st
        .writer
        .run(move |w| w.import_patrons_whole(&patrons))
        .await?;
    let skipped: Vec<BadRow> = rows
        .iter()
        .zip(&out)
        .filter_map(|(row, o)| match o {
            PatronUpsert::Skipped(reason) => Some(BadRow {
                line: row.line,
                card: Some(row.patron.card.clone()),
                reason: reason.clone(),
            }),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        return Ok(preview(&s, &p.text, &[], &skipped));
    }
    let added = out
        .iter()
        .filter(|o| matches!(o, PatronUpsert::Inserted))
        .count();
    let entry = s
        .entry("readers.import", "csv")
        .branch(s.branch.as_deref())
        .detail(format!("{n} rows: {added} new, {} updated", n - added));
    let _ = st.writer.audit(entry).await;
    let body = format!(
        "<div class=\"card\" id=\"import-done\"><p>{}</p></div>",
        lang.t("import_done")
            .replace("{new}", &added.to_string())
            .replace("{updated}", &(n - added).to_string())
    );
    Ok(page(&s, "", &body, StatusCode::OK))
}

fn preview(s: &Session, text: &str, rows: &[PatronRow], bad: &[BadRow]) -> Response {
    let lang = s.lang;
    let mut b = String::new();
    if bad.is_empty() && !rows.is_empty() {
        let _ = write!(
            b,
            "<div class=\"card\" id=\"import-preview\"><p>{}</p><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            lang.t("import_ready").replace("{n}", &rows.len().to_string()),
            lang.t("line"),
            lang.t("card"),
            lang.t("name"),
            lang.t("category"),
            lang.t("branch"),
        );
        for r in rows.iter().take(PREVIEW_ROWS) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.line,
                esc(&r.patron.card),
                esc(&r.patron.name),
                esc(&r.patron.category),
                esc(r.patron.branch.as_str())
            );
        }
        let _ = write!(
            b,
            "</tbody></table><form method=\"post\" action=\"/admin/readers/import\" enctype=\"multipart/form-data\" id=\"import-confirm\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><textarea name=\"text\" hidden>{}</textarea>\
             <button name=\"action\" value=\"import\" id=\"import-go\">{}</button></form></div>",
            esc(&s.csrf),
            esc(text),
            lang.t("import_go").replace("{n}", &rows.len().to_string()),
        );
        return page(s, text, &b, StatusCode::OK);
    }
    let _ = write!(
        b,
        "<div class=\"card err\" id=\"import-errors\" role=\"alert\"><p>{}</p><ul>",
        if bad.is_empty() {
            lang.t("import_empty").to_owned()
        } else {
            lang.t("import_bad").replace("{n}", &bad.len().to_string())
        }
    );
    for r in bad {
        let _ = write!(
            b,
            "<li data-line=\"{}\">{} {}{}: {}</li>",
            r.line,
            lang.t("line"),
            r.line,
            r.card
                .as_deref()
                .map(|c| format!(" ({})", esc(c)))
                .unwrap_or_default(),
            esc(&r.reason)
        );
    }
    b.push_str("</ul></div>");
    page(s, text, &b, StatusCode::BAD_REQUEST)
}
