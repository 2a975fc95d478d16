//! The catalogue from MARC files in the dashboard (`/admin/catalogue/import`,
//! administrators): a file of MARC21 records (ISO 2709 or MARCXML) is imported with its
//! copies, as `central import marc` does, and what happened is shown: records new and
//! replaced, and each record left out with where and why.

use std::fmt::Write;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::esc;
use super::{MarcImportSummary, Page, Session, WebError, WebState};

/// The largest file taken. Central holds every request body to `http.max_body_bytes` (4 MiB
/// by default, some 5,000 records); a whole provincial catalogue goes through
/// `central import marc`, or in several files.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Records left out that the page lists (the rest are counted).
const LISTED: usize = 200;

fn page(s: &Session, report: Option<&MarcImportSummary>, status: StatusCode) -> Response {
    let lang = s.lang;
    let mut h = format!("<h1>{}</h1>", lang.t("marc_import"));
    if let Some(r) = report {
        let _ = write!(
            h,
            "<div class=\"card{}\" id=\"marc-report\"><p id=\"marc-counts\">{}</p>",
            if r.unreadable.is_some() { " err" } else { "" },
            lang.t("marc_counts")
                .replace("{imported}", &r.imported.to_string())
                .replace("{updated}", &r.updated.to_string())
                .replace("{skipped}", &r.skipped.len().to_string())
        );
        if let Some(why) = &r.unreadable {
            let _ = write!(h, "<p>{}: {}</p>", lang.t("marc_unreadable"), esc(why));
        }
        if !r.skipped.is_empty() {
            h.push_str("<ul id=\"marc-skipped\">");
            for line in r.skipped.iter().take(LISTED) {
                let _ = write!(h, "<li>{}</li>", esc(line));
            }
            h.push_str("</ul>");
        }
        h.push_str("</div>");
    }
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/admin/catalogue/import\" enctype=\"multipart/form-data\" class=\"card stack\" id=\"marc-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><p class=\"muted\">{}</p>\
         <label>{}<br><input type=\"file\" name=\"file\" id=\"marc-file\" required></label>\
         <p><button id=\"marc-go\">{}</button></p></form>",
        esc(&s.csrf),
        lang.t("marc_help"),
        lang.t("marc_file"),
        lang.t("marc_go"),
    );
    let mut r = s.page(lang.t("marc_import"), "readers", &h);
    *r.status_mut() = status;
    r
}

/// `GET /admin/catalogue/import`.
#[tracing::instrument(skip_all)]
pub async fn form(s: Session) -> Page {
    s.cataloguer_only()?;
    Ok(page(&s, None, StatusCode::OK))
}

/// `POST /admin/catalogue/import`: imports the file and shows what happened.
#[tracing::instrument(skip_all)]
pub async fn import(State(st): State<WebState>, s: Session, m: Multipart) -> Page {
    let mut csrf = None;
    let mut file = Vec::new();
    for (name, bytes) in super::multipart_fields(m, MAX_BYTES).await? {
        match name.as_str() {
            "csrf" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => file = bytes,
            _ => {}
        }
    }
    s.check_csrf(csrf.as_deref())?;
    s.cataloguer_only()?;
    if file.is_empty() {
        return Err(WebError::BadRequest("no file".into()));
    }
    let size = file.len();
    let report = st.catalogue.import_marc(file).await?;
    let entry = s.entry("marc.import", "upload").detail(format!(
        "{size} bytes: imported {}, updated {}, skipped {}",
        report.imported,
        report.updated,
        report.skipped.len()
    ));
    let _ = st.writer.audit(entry).await;
    // Nothing taken from the file at all: the person must see it as a refusal.
    let status = if report.unreadable.is_some() || report.imported + report.updated == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(page(&s, Some(&report), status))
}
