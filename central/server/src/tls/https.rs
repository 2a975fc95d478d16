//! HTTPS: a listener that hands axum connections once their TLS handshake is done, and
//! the headers every answer carries (HSTS over HTTPS, a content security policy always).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake that has not finished in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many handshakes at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

/// TCP connections made TLS, for `axum::serve`. Handshakes run side by side, so a slow
/// or silent client holds up nobody else.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    /// Serves `config` on `tcp`.
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> TlsListener {
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshakes: JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                r = self.tcp.accept(), if self.handshakes.len() < MAX_HANDSHAKES => match r {
                    Ok((stream, peer)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => Some((tls, peer)),
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    None
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    None
                                }
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The content security policy of every answer: scripts, styles, images and forms from
/// central itself only (inline styles allowed; the one inline script, the document
/// viewer's, allowed by its hash), and no framing.
pub fn content_security_policy() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let viewer = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(central_web::viewer::SCRIPT.as_bytes()));
    format!(
        "default-src 'self'; script-src 'self' 'sha256-{viewer}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Adds the security headers to every answer of `app`; `hsts` (max-age seconds) only
/// when central serves HTTPS.
pub fn security_headers(app: axum::Router, hsts: Option<u64>) -> axum::Router {
    let csp = HeaderValue::from_str(&content_security_policy()).ok();
    let hsts = hsts.and_then(|s| HeaderValue::from_str(&format!("max-age={s}")).ok());
    app.layer(axum::middleware::map_response(
        move |mut resp: axum::response::Response| {
            let (csp, hsts) = (csp.clone(), hsts.clone());
            async move {
                let h = resp.headers_mut();
                if let Some(v) = csp {
                    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(v);
                }
                if let Some(v) = hsts {
                    h.insert(header::STRICT_TRANSPORT_SECURITY, v);
                }
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                );
                resp
            }
        },
    ))
}
