//! The public HTTP handlers of digitised documents: the IIIF manifest and static images,
//! page text and the PDF. (The viewer page is `central-web`'s.)

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use central_store::{digitise as db, Reads};

use crate::iiif;
use crate::public_url::PublicBase;

/// What the public document handlers share: the read pool and the rule for the public
/// URL that IIIF ids are built on.
#[derive(Debug, Clone)]
pub struct Documents {
    /// Read connections.
    pub reads: Reads,
    /// The public URL rules.
    pub base: Arc<PublicBase>,
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "digitised document route failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

async fn load(reads: Reads, doc: String) -> Result<Option<db::DocumentPages>, Response> {
    reads
        .run(move |c| db::document_with_pages(c, &doc))
        .await
        .map_err(internal)
}

/// `GET /iiif/{doc}/manifest.json`: the document's IIIF manifest.
pub async fn manifest(
    State(Documents { reads, base }): State<Documents>,
    Path(doc): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !db::safe_id(&doc) {
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
    if !db::safe_id(doc) {
        return Err(not_found());
    }
    let (d, pages) = load(reads, doc.to_owned()).await?.ok_or_else(not_found)?;
    let p = pages
        .into_iter()
        .find(|p| p.position == position)
        .ok_or_else(not_found)?;
    Ok((d, p))
}

/// `GET /iiif/{doc}/{page}/info.json`: a page's IIIF image information.
pub async fn info(
    State(Documents { reads, base }): State<Documents>,
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

/// `GET /iiif/{doc}/{page}/full/{size}/0/default.jpg`: a page's level 0 image.
pub async fn image(
    State(Documents { reads, .. }): State<Documents>,
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

/// `GET /documents/{doc}.pdf`: the searchable PDF.
pub async fn pdf(
    State(Documents { reads, .. }): State<Documents>,
    Path(file_name): Path<String>,
) -> Response {
    let Some(doc) = file_name.strip_suffix(".pdf").filter(|d| db::safe_id(d)) else {
        return not_found();
    };
    match load(reads, doc.to_owned()).await {
        Ok(Some((d, _))) => file(crate::pdf::pdf_path(&d.dir), "application/pdf").await,
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

/// `GET /documents/{doc}/text/{page}`: a page's OCR text.
pub async fn text(
    State(Documents { reads, .. }): State<Documents>,
    Path((doc, page)): Path<(String, String)>,
) -> Response {
    match page_of(reads, &doc, &page).await {
        Ok((_, p)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            p.text.unwrap_or_default(),
        )
            .into_response(),
        Err(r) => r,
    }
}
