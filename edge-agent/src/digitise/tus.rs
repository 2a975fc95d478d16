//! A tus 1.0 client (core protocol, creation and checksum extensions) over reqwest.
//! One call per request; the uploader decides what to do with the answers.

use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

/// The tus version every request carries.
pub const TUS_VERSION: &str = "1.0.0";

/// A tus request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    /// The network or HTTP layer failed (connection refused, cut, timed out).
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The upload is not known to the server (any more).
    #[error("upload not found on the server")]
    Gone,
    /// The server holds another offset than the one sent.
    #[error("offset mismatch")]
    Conflict,
    /// The server found the chunk's checksum wrong and dropped it.
    #[error("chunk checksum mismatch")]
    Checksum,
    /// Any other status.
    #[error("server answered {0}: {1}")]
    Status(u16, String),
    /// A header was missing or malformed.
    #[error("bad answer: {0}")]
    BadAnswer(String),
}

/// A client for one tus endpoint.
#[derive(Debug, Clone)]
pub struct TusClient {
    http: reqwest::Client,
    files: Url,
    signer: std::sync::Arc<rong_identity::Signer>,
    /// Central's key, pinned at enrolment: a verdict must be signed by it.
    central_key: rong_identity::PublicKey,
}

/// `Upload-Metadata`: `key base64(value)` pairs, comma-separated.
pub fn encode_metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `Upload-Checksum` of a chunk: `sha256 <base64 digest>`.
pub fn chunk_checksum(chunk: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(chunk))
    )
}

fn header_u64(h: &HeaderMap, name: &str) -> Result<u64, TusError> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| TusError::BadAnswer(format!("no {name}")))
}

async fn status_error(r: reqwest::Response) -> TusError {
    let code = r.status();
    let body = r.text().await.unwrap_or_default();
    match code {
        StatusCode::NOT_FOUND | StatusCode::GONE => TusError::Gone,
        StatusCode::CONFLICT => TusError::Conflict,
        c if c.as_u16() == 460 => TusError::Checksum,
        c => TusError::Status(c.as_u16(), body.chars().take(200).collect()),
    }
}

impl TusClient {
    /// A client for `{central}/files/`, signing as `signer`; with `ca_pem`, HTTPS trusts
    /// central's CA only.
    pub fn new(
        central: &str,
        signer: std::sync::Arc<rong_identity::Signer>,
        central_key: rong_identity::PublicKey,
        ca_pem: Option<&str>,
    ) -> Result<Self, TusError> {
        let base = Url::parse(&format!("{}/", central.trim_end_matches('/')))
            .map_err(|e| TusError::BadAnswer(format!("central url {central:?}: {e}")))?;
        let files = base
            .join("files/")
            .map_err(|e| TusError::BadAnswer(e.to_string()))?;
        let http = crate::tls::http_client(
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(120)),
            ca_pem,
        )
        .map_err(|e| TusError::BadAnswer(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            files,
            signer,
            central_key,
        })
    }

    /// Central's pinned key.
    pub fn central_key(&self) -> &rong_identity::PublicKey {
        &self.central_key
    }

    /// Sends a request built on the client, signed (with one retry at central's time when
    /// the board's clock is off).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, TusError> {
        let req = req.build()?;
        Ok(crate::identity::send(&self.http, &self.signer, req).await?)
    }

    /// Central's base URL joined with `path`.
    pub fn endpoint(&self, path: &str) -> Result<Url, TusError> {
        self.files
            .join(path)
            .map_err(|e| TusError::BadAnswer(e.to_string()))
    }

    /// The HTTP client, for the bag submission.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Creates an upload of `length` bytes; returns its URL.
    pub async fn create(&self, length: u64, metadata: &[(&str, &str)]) -> Result<Url, TusError> {
        let r = self
            .send(
                self.http
                    .post(self.files.clone())
                    .header("Tus-Resumable", TUS_VERSION)
                    .header("Upload-Length", length.to_string())
                    .header("Upload-Metadata", encode_metadata(metadata)),
            )
            .await?;
        if r.status() != StatusCode::CREATED {
            return Err(status_error(r).await);
        }
        let loc = r
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| TusError::BadAnswer("no Location".into()))?;
        self.files
            .join(loc)
            .map_err(|e| TusError::BadAnswer(format!("Location {loc:?}: {e}")))
    }

    /// The offset the server holds for an upload (`HEAD`).
    pub async fn offset(&self, url: &Url) -> Result<u64, TusError> {
        let r = self
            .send(
                self.http
                    .head(url.clone())
                    .header("Tus-Resumable", TUS_VERSION),
            )
            .await?;
        if !r.status().is_success() {
            return Err(status_error(r).await);
        }
        header_u64(r.headers(), "Upload-Offset")
    }

    /// Sends one chunk at `offset`; returns the new offset the server confirms.
    pub async fn patch(&self, url: &Url, offset: u64, chunk: Vec<u8>) -> Result<u64, TusError> {
        let r = self
            .send(
                self.http
                    .patch(url.clone())
                    .header("Tus-Resumable", TUS_VERSION)
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/offset+octet-stream"),
                    )
                    .header("Upload-Offset", offset.to_string())
                    .header("Upload-Checksum", chunk_checksum(&chunk))
                    .body(chunk),
            )
            .await?;
        if r.status() != StatusCode::NO_CONTENT && !r.status().is_success() {
            return Err(status_error(r).await);
        }
        header_u64(r.headers(), "Upload-Offset")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_checksums_are_encoded_as_tus_says() {
        assert_eq!(
            encode_metadata(&[("job", "j1"), ("path", "data/master/0001.png")]),
            "job ajE=,path ZGF0YS9tYXN0ZXIvMDAwMS5wbmc="
        );
        assert_eq!(
            chunk_checksum(b"abc"),
            "sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn the_files_endpoint_is_under_central() {
        let signer = || {
            std::sync::Arc::new(rong_identity::Signer::new(
                "kiosk-1",
                rong_identity::KeyPair::generate(),
            ))
        };
        let c = TusClient::new(
            "http://127.0.0.1:8080",
            signer(),
            rong_identity::KeyPair::generate().public(),
            None,
        )
        .unwrap();
        assert_eq!(
            c.endpoint("abc").unwrap().as_str(),
            "http://127.0.0.1:8080/files/abc"
        );
        let c = TusClient::new(
            "http://h/central/",
            signer(),
            rong_identity::KeyPair::generate().public(),
            None,
        )
        .unwrap();
        assert_eq!(
            c.endpoint("x").unwrap().as_str(),
            "http://h/central/files/x"
        );
    }
}
