//! HTTP routes of digitised documents: the IIIF manifest and static images, page text, the
//! PDF, and the viewer.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use central_store::{digitise as db, Reads};

use super::public_url::PublicBase;
use super::{iiif, viewer};

/// The routes, over the read pool; IIIF ids are built on `base`.
pub fn router(reads: Reads, base: PublicBase) -> Router {
    Router::new()
        .route("/iiif/{doc}/manifest.json", get(manifest))
        .route("/iiif/{doc}/{page}/info.json", get(info))
        .route("/iiif/{doc}/{page}/full/{size}/0/default.jpg", get(image))
        .route("/documents/{file}", get(pdf))
        .route("/documents/{doc}/text/{page}", get(text))
        .route("/opac/documents/{doc}", get(viewer_page))
        .with_state(reads)
        .layer(Extension(Arc::new(base)))
}

/// A document id or page number is safe to use in a path: ASCII letters, digits, `-`, `_`.
fn safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "digitised document route failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

type DocPages = Option<(db::Document, Vec<db::Page>)>;

async fn load(reads: Reads, doc: String) -> Result<DocPages, Response> {
    reads
        .run(move |c| {
            let Some(d) = db::document(c, &doc)? else {
                return Ok(None);
            };
            let pages = db::pages(c, &doc)?;
            Ok(Some((d, pages)))
        })
        .await
        .map_err(internal)
}

async fn manifest(
    State(reads): State<Reads>,
    Extension(base): Extension<Arc<PublicBase>>,
    Path(doc): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !safe(&doc) {
        return not_found();
    }
    match load(reads, doc).await {
        Ok(Some((d, pages))) => {
            let meta = iiif::bag_info(&d.dir);
            let mut r = Json(iiif::manifest(
                &base.for_request(&headers),
                &d,
                &pages,
                &meta,
            ))
            .into_response();
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::HeaderValue::from_static("*"),
            );
            r
        }
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

async fn page_of(
    reads: Reads,
    doc: &str,
    page: &str,
) -> Result<(db::Document, db::Page), Response> {
    let position: u32 = page.parse().map_err(|_| not_found())?;
    if !safe(doc) {
        return Err(not_found());
    }
    let (d, pages) = load(reads, doc.to_owned()).await?.ok_or_else(not_found)?;
    let p = pages
        .into_iter()
        .find(|p| p.position == position)
        .ok_or_else(not_found)?;
    Ok((d, p))
}

async fn info(
    State(reads): State<Reads>,
    Extension(base): Extension<Arc<PublicBase>>,
    Path((doc, page)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match page_of(reads, &doc, &page).await {
        Ok((_, p)) => {
            let id = format!("{}/iiif/{doc}/{}", base.for_request(&headers), p.position);
            let mut r = Json(iiif::info_json(&id, p.width, p.height)).into_response();
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::HeaderValue::from_static("*"),
            );
            r
        }
        Err(r) => r,
    }
}

async fn file(path: PathBuf, content_type: &'static str) -> Response {
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => not_found(),
        Err(e) => internal(e),
    }
}

async fn image(
    State(reads): State<Reads>,
    Path((doc, page, size)): Path<(String, String, String)>,
) -> Response {
    // Level 0: only the sizes listed in info.json exist, as `{w},` or `max`.
    let size_ok = size == "max"
        || size
            .strip_suffix(',')
            .is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()));
    if !size_ok {
        return not_found();
    }
    match page_of(reads, &doc, &page).await {
        Ok((d, p)) => {
            let path = iiif::page_dir(&d.dir, p.position)
                .join("full")
                .join(&size)
                .join("0")
                .join("default.jpg");
            file(path, "image/jpeg").await
        }
        Err(r) => r,
    }
}

async fn pdf(State(reads): State<Reads>, Path(file_name): Path<String>) -> Response {
    let Some(doc) = file_name.strip_suffix(".pdf").filter(|d| safe(d)) else {
        return not_found();
    };
    match load(reads, doc.to_owned()).await {
        Ok(Some((d, _))) => file(super::pdf::pdf_path(&d.dir), "application/pdf").await,
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

async fn text(State(reads): State<Reads>, Path((doc, page)): Path<(String, String)>) -> Response {
    match page_of(reads, &doc, &page).await {
        Ok((_, p)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            p.text.unwrap_or_default(),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// `?lang=` of the viewer.
#[derive(Debug, Default, Deserialize)]
struct LangParam {
    lang: Option<String>,
}

async fn viewer_page(
    State(reads): State<Reads>,
    Path(doc): Path<String>,
    Query(q): Query<LangParam>,
) -> Response {
    if !safe(&doc) {
        return not_found();
    }
    let english = q.lang.as_deref() == Some("en");
    match load(reads, doc).await {
        Ok(Some((d, pages))) => Html(viewer::page(&d, pages.len(), english)).into_response(),
        Ok(None) => not_found(),
        Err(r) => r,
    }
}
