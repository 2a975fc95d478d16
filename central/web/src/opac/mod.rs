//! The public catalogue at `/opac`: search, a record page with copies per branch, in
//! Vietnamese first with an English switch. No login, no JavaScript, no CDN: server-side
//! HTML with one embedded style sheet, readable on a phone.

mod pages;
mod text;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use central_store::{digitise as db, search, Reads, StoreError};
pub use text::Lang;

/// Results per page.
const PER_PAGE: usize = 20;
/// Digitised-document pages shown for a full-text match.
const DOCUMENT_HITS: usize = 10;

/// What the catalogue's handlers share.
#[derive(Debug, Clone)]
pub struct OpacState {
    /// Read connections.
    pub reads: Reads,
    /// The library's name, for the heading.
    pub library_name: Arc<str>,
}

/// Query of the search page.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    page: Option<usize>,
    lang: Option<String>,
}

/// Query of the record page.
#[derive(Debug, Default, Deserialize)]
pub struct LangParam {
    lang: Option<String>,
}

/// The language: `?lang=` first (and remembered in a cookie), then the cookie, then
/// Vietnamese.
fn language(param: Option<&str>, headers: &HeaderMap) -> (Lang, Option<HeaderValue>) {
    if let Some(lang) = param.and_then(text::parse) {
        let cookie = HeaderValue::from_str(&format!(
            "lang={}; Path=/opac; Max-Age=31536000; SameSite=Lax",
            lang.code()
        ))
        .ok();
        return (lang, cookie);
    }
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("lang="))
        .find_map(text::parse);
    (from_cookie.unwrap_or(Lang::Vi), None)
}

fn page(status: StatusCode, body: String, cookie: Option<HeaderValue>) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    if let Some(c) = cookie {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

fn failure(lang: Lang, st: &OpacState, e: StoreError) -> Response {
    tracing::error!(error = %e, "public catalogue read failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::error_page(lang, &st.library_name, text::texts(lang).unavailable),
        None,
    )
}

#[tracing::instrument(skip_all)]
/// `GET /opac`: the search page (and its results).
pub async fn search_page(
    State(st): State<OpacState>,
    headers: HeaderMap,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    // A malformed query string (a page that is not a number) is treated as no query.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let (lang, cookie) = language(params.lang.as_deref(), &headers);
    let q = params.q.unwrap_or_default();
    let page_no = params.page.unwrap_or(1).clamp(1, 5);
    let parsed = rong_protocol::search::Query::parse(&q);
    let documents = match parsed.clone() {
        Some(parsed) => {
            match st
                .reads
                .run(move |c| central_store::digitise::search_text(c, &parsed, DOCUMENT_HITS))
                .await
            {
                Ok(h) => crate::viewer::hits_html(lang == Lang::En, &q, &h),
                Err(e) => return failure(lang, &st, e),
            }
        }
        None => String::new(),
    };
    let hits = match parsed {
        Some(parsed) => {
            let limit = rong_protocol::search::clamp_limit(Some(page_no * PER_PAGE + 1));
            match st
                .reads
                .run(move |c| search::search(c, &parsed, limit))
                .await
            {
                Ok(h) => Some(h),
                Err(e) => return failure(lang, &st, e),
            }
        }
        None => None,
    };
    let body = pages::search_page(
        lang,
        &st.library_name,
        &q,
        hits.as_deref(),
        page_no,
        PER_PAGE,
        &documents,
    );
    page(StatusCode::OK, body, cookie)
}

#[tracing::instrument(skip_all, fields(record = %id))]
/// `GET /opac/record/{id}`: one record and its copies.
pub async fn record_page(
    State(st): State<OpacState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Result<Query<LangParam>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let (lang, cookie) = language(params.lang.as_deref(), &headers);
    let key = id.clone();
    match st.reads.run(move |c| search::record_detail(c, &key)).await {
        Ok(Some((rec, copies))) => page(
            StatusCode::OK,
            pages::record_page(lang, &st.library_name, &rec, &copies),
            cookie,
        ),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            pages::error_page(lang, &st.library_name, text::texts(lang).no_record),
            cookie,
        ),
        Err(e) => failure(lang, &st, e),
    }
}

/// `GET /opac/style.css`: the public pages' stylesheet.
pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLE,
    )
}

/// `GET /opac/documents/{doc}`: the document viewer (`?lang=en` for English).
pub async fn viewer_page(
    State(st): State<OpacState>,
    Path(doc): Path<String>,
    Query(q): Query<LangParam>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    if !db::safe_id(&doc) {
        return not_found();
    }
    let english = q.lang.as_deref() == Some("en");
    match st
        .reads
        .run(move |c| db::document_with_pages(c, &doc))
        .await
    {
        Ok(Some((d, pages))) => {
            axum::response::Html(crate::viewer::page(&d, pages.len(), english)).into_response()
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "digitised document route failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
