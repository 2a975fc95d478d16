//! A tiny blocking HTTP/1.1 client for talking to central in tests. An address handed to
//! [`trust`] is spoken to over HTTPS, trusting only the CA given there.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The addresses that speak HTTPS, with the client configuration for each.
static TLS: Mutex<Option<HashMap<SocketAddr, Arc<rustls::ClientConfig>>>> = Mutex::new(None);

/// Speaks HTTPS to `addr` from now on, trusting `ca_pem` only.
pub fn trust(addr: SocketAddr, ca_pem: &str) {
    let config = rong_identity::tls::client_config(ca_pem, None).expect("a CA certificate");
    TLS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(addr, Arc::new(config));
}

fn tls_for(addr: SocketAddr) -> Option<Arc<rustls::ClientConfig>> {
    TLS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(&addr)
        .cloned()
}

/// An HTTP response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<Reply> {
    request_as(addr, None, method, path, body)
}

/// Sends one request with `token` as its bearer credentials, if given, and reads the whole
/// response.
pub fn request_as(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<Reply> {
    let body = body.map(|b| b.to_string());
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let r = request_full(
        addr,
        method,
        path,
        &headers,
        body.as_deref().map(|b| ("application/json", b.as_bytes())),
    )?;
    Ok(Reply {
        status: r.status,
        body: r.body,
    })
}

/// A response with its headers.
#[derive(Debug, Clone)]
pub struct FullReply {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl FullReply {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the cookie `name` that a `Set-Cookie` header sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .find_map(|(_, v)| {
                let (k, val) = v.split(';').next()?.split_once('=')?;
                (k == name).then(|| val.to_owned())
            })
    }
}

/// `s` with every byte but ASCII letters and digits percent-encoded, for a query string or
/// a form.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends one request with extra headers and an optional `(content type, bytes)` body.
/// The body is read by its `Content-Length` (or chunks, or to the close), so servers that
/// keep the connection open work too.
pub fn request_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> std::io::Result<FullReply> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    match tls_for(addr) {
        Some(config) => {
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let conn =
                rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
            let mut s = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut s, addr, method, path, headers, body)
        }
        None => {
            let mut s = tcp;
            exchange(&mut s, addr, method, path, headers, body)
        }
    }
}

fn exchange(
    s: &mut (impl Read + Write),
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> std::io::Result<FullReply> {
    let (ctype, bytes) = body.unwrap_or(("", b""));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        bytes.len()
    );
    if !ctype.is_empty() {
        head.push_str(&format!("Content-Type: {ctype}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(bytes)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut split = None;
    let mut want: Option<usize> = None;
    loop {
        if let (Some(at), Some(len)) = (split, want) {
            if raw.len() >= at + 4 + len {
                break;
            }
        }
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            // A TLS peer that hangs up without saying so, after the whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && split.is_some() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if split.is_none() {
            split = raw.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(at) = split {
                let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
                want = head.lines().find_map(|l| {
                    l.strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse().ok())
                });
                if method == "HEAD" {
                    want = Some(0);
                }
            }
        }
    }
    let split = split.ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = want {
        body.truncate(len);
    } else if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(FullReply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// GET, expecting JSON with status 200.
pub fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    get_json_as(addr, None, path)
}

/// GET a JSON path with `token` as bearer credentials, if given; panics unless it answers 200.
pub fn get_json_as(addr: SocketAddr, token: Option<&str>, path: &str) -> serde_json::Value {
    let r =
        request_as(addr, token, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(
        r.status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}
