//! The absolute base URL that IIIF ids (manifest, canvases, image services, the PDF) are
//! built on. A configured `[digitise] public_url` always wins. Without one, the base comes
//! from the request: its `Host` header over `http`; `X-Forwarded-Proto` and
//! `X-Forwarded-Host` are used only when `[digitise] trust_forwarded` says central sits
//! behind a reverse proxy that sets them (otherwise any client could choose the URLs
//! central writes into its answers).

use axum::http::{header, HeaderMap};

/// How to find the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase {
    fixed: Option<String>,
    trust_forwarded: bool,
}

/// A host name (with an optional port) safe to write into a URL.
fn host_ok(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        // A chain of proxies appends: the first value is the client-facing one.
        .and_then(|v| v.split(',').next())
        .map(str::trim)
}

impl PublicBase {
    /// Checks a configured `public_url` (absolute `http` or `https`, no query or fragment).
    pub fn new(public_url: Option<&str>, trust_forwarded: bool) -> Result<PublicBase, String> {
        let fixed = match public_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(u) => {
                let rest = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .ok_or_else(|| {
                        format!("digitise.public_url {u:?} must start with http:// or https://")
                    })?;
                let host = rest.split('/').next().unwrap_or_default();
                if !host_ok(host) || u.contains(['?', '#', ' ']) {
                    return Err(format!(
                        "digitise.public_url {u:?} is not a plain absolute URL"
                    ));
                }
                Some(u.trim_end_matches('/').to_owned())
            }
        };
        Ok(PublicBase {
            fixed,
            trust_forwarded,
        })
    }

    /// The base URL (no trailing `/`) for a request with these headers.
    pub fn for_request(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.fixed {
            return u.clone();
        }
        let forwarded = |name| {
            self.trust_forwarded
                .then(|| header_str(headers, name))
                .flatten()
        };
        let proto = match forwarded("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = forwarded("x-forwarded-host")
            .filter(|h| host_ok(h))
            .or_else(|| {
                headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| host_ok(h))
            })
            .unwrap_or("localhost");
        format!("{proto}://{host}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_host_header_is_used_and_forwarded_headers_only_when_trusted() {
        let h = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "thuvien.example.vn, inner.proxy"),
        ]);
        let direct = PublicBase::new(None, false).unwrap();
        assert_eq!(direct.for_request(&h), "http://10.0.0.5:8080");
        let proxied = PublicBase::new(None, true).unwrap();
        assert_eq!(proxied.for_request(&h), "https://thuvien.example.vn");
        // A trusted proxy that sends only some of them.
        let h2 = headers(&[("host", "a.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(proxied.for_request(&h2), "https://a.example");
        // Nothing usable.
        let bad = headers(&[("host", "evil.example/\"><script>")]);
        assert_eq!(direct.for_request(&bad), "http://localhost");
        assert_eq!(direct.for_request(&HeaderMap::new()), "http://localhost");
    }

    #[test]
    fn a_configured_public_url_wins_and_is_checked() {
        let b = PublicBase::new(Some("https://thuvien.kontum.gov.vn/central/"), true).unwrap();
        let h = headers(&[("host", "10.0.0.5"), ("x-forwarded-host", "other")]);
        assert_eq!(b.for_request(&h), "https://thuvien.kontum.gov.vn/central");
        assert!(PublicBase::new(Some("ftp://x"), false).is_err());
        assert!(PublicBase::new(Some("thuvien.vn"), false).is_err());
        assert!(PublicBase::new(Some("https://x.vn/?a=1"), false).is_err());
        assert_eq!(
            PublicBase::new(Some("  "), false).unwrap(),
            PublicBase::new(None, false).unwrap()
        );
    }
}
