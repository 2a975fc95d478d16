//! The MQTT broker's address and the client options every Rông program connects with.
//!
//! [`BrokerUrl`] reads `mqtt://host:port`, `tcp://host:port` or a bare `host:port` (the
//! port defaults to 1883), and `mqtts://host:port` for MQTT over TLS (port 8883).
//! [`options`] turns it, a client id, a keep-alive, optional [`Credentials`] and the
//! packet limits into `rumqttc` options; [`use_tls`] adds the TLS configuration an
//! `mqtts://` URL needs. Each caller adds its own last will, clean-session and in-flight
//! choices on top.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rong_runtime::Secret;
use rumqttc::MqttOptions;

/// The port an `mqtt://` URL without one means.
pub const DEFAULT_PORT: u16 = 1883;

/// The port an `mqtts://` URL without one means.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A scheme other than `mqtt://`, `tcp://` or `mqtts://`.
    #[error("only mqtt://, tcp:// and mqtts:// (TLS) URLs are supported")]
    Scheme,
    /// The port is not a number from 0 to 65535.
    #[error("bad port: {0}")]
    Port(String),
    /// No host, or one no broker can have.
    #[error("missing or bad host {0:?}")]
    Host(String),
}

/// Where the broker listens: a host name or IP address, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    host: String,
    port: u16,
    tls: bool,
}

impl BrokerUrl {
    /// The broker at `host` and `port`, taken as given, in clear.
    pub fn new(host: impl Into<String>, port: u16) -> BrokerUrl {
        BrokerUrl {
            host: host.into(),
            port,
            tls: false,
        }
    }

    /// The same broker, over TLS.
    pub fn with_tls(self) -> BrokerUrl {
        BrokerUrl { tls: true, ..self }
    }

    /// Reads `mqtt://host:port`, `tcp://host:port` or `host:port`; without a port, 1883.
    /// `mqtts://host:port` is MQTT over TLS; without a port, 8883. A trailing `/` is
    /// ignored.
    pub fn parse(url: &str) -> Result<BrokerUrl, UrlError> {
        let (tls, rest) = match url.strip_prefix("mqtts://") {
            Some(rest) => (true, rest),
            None => (
                false,
                url.strip_prefix("mqtt://")
                    .or_else(|| url.strip_prefix("tcp://"))
                    .unwrap_or(url),
            ),
        };
        if rest.contains("://") {
            return Err(UrlError::Scheme);
        }
        let rest = rest.trim_end_matches('/');
        let default_port = if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|e| UrlError::Port(format!("{e}")))?),
            None => (rest, default_port),
        };
        // A path, user info or query would be silently taken as part of a host name.
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
        {
            return Err(UrlError::Host(host.to_owned()));
        }
        Ok(BrokerUrl {
            host: host.to_owned(),
            port,
            tls,
        })
    }

    /// Whether the broker speaks TLS (`mqtts://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for BrokerUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<BrokerUrl, UrlError> {
        BrokerUrl::parse(s)
    }
}

impl From<SocketAddr> for BrokerUrl {
    fn from(addr: SocketAddr) -> BrokerUrl {
        BrokerUrl::new(addr.ip().to_string(), addr.port())
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// The user name and password a client logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// User name.
    pub username: &'a str,
    /// Password; an empty one when `None`.
    pub password: Option<&'a Secret>,
}

impl<'a> Credentials<'a> {
    /// From a config's optional user name and password: none without a user name (MQTT
    /// sends no password without one).
    pub fn from_config(
        username: Option<&'a str>,
        password: Option<&'a Secret>,
    ) -> Option<Credentials<'a>> {
        username.map(|username| Credentials { username, password })
    }
}

/// The largest packets a client takes in and sends, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPacket {
    /// From the broker.
    pub incoming: usize,
    /// To the broker.
    pub outgoing: usize,
}

impl MaxPacket {
    /// The same limit both ways.
    pub const fn both(bytes: usize) -> MaxPacket {
        MaxPacket {
            incoming: bytes,
            outgoing: bytes,
        }
    }
}

/// Client options for `url` as `client_id`. `keep_alive` must be zero (none) or at least
/// one second.
pub fn options(
    url: &BrokerUrl,
    client_id: &str,
    keep_alive: Duration,
    credentials: Option<Credentials<'_>>,
    max_packet: MaxPacket,
) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, url.host(), url.port());
    o.set_keep_alive(keep_alive)
        .set_max_packet_size(max_packet.incoming, max_packet.outgoing);
    if let Some(c) = credentials {
        o.set_credentials(c.username, c.password.map(Secret::expose).unwrap_or(""));
    }
    o
}

/// MQTT over TLS with `config` (which trusts central's CA and, on a board, presents the
/// board's certificate). The server name checked is the URL's host.
pub fn use_tls(o: &mut MqttOptions, config: Arc<rumqttc::tokio_rustls::rustls::ClientConfig>) {
    o.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(config),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> Result<(String, u16), UrlError> {
        BrokerUrl::parse(url).map(|u| (u.host().to_owned(), u.port()))
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            parsed("mqtt://127.0.0.1:1884"),
            Ok(("127.0.0.1".into(), 1884))
        );
        assert_eq!(parsed("tcp://broker"), Ok(("broker".into(), 1883)));
        assert_eq!(parsed("mqtt://broker:1883/"), Ok(("broker".into(), 1883)));
        assert_eq!(parsed("localhost:1"), Ok(("localhost".into(), 1)));
        assert_eq!(parsed("broker"), Ok(("broker".into(), DEFAULT_PORT)));
        let tls = BrokerUrl::parse("mqtts://central.kontum.example").unwrap();
        assert!(tls.is_tls());
        assert_eq!(tls.port(), DEFAULT_TLS_PORT);
        assert_eq!(tls.to_string(), "mqtts://central.kontum.example:8883");
        assert!(!BrokerUrl::parse("mqtt://x").unwrap().is_tls());
    }

    #[test]
    fn refused_forms() {
        assert_eq!(parsed("ws://x:1"), Err(UrlError::Scheme));
        assert_eq!(parsed("http://x"), Err(UrlError::Scheme));
        assert!(matches!(parsed("mqtt://x:port"), Err(UrlError::Port(_))));
        assert!(matches!(parsed("mqtt://x:70000"), Err(UrlError::Port(_))));
        for bad in [
            "mqtt://:1",
            "",
            "mqtt://",
            "mqtt://user@x:1",
            "mqtt//x:1",
            "a b:1",
        ] {
            assert!(matches!(parsed(bad), Err(UrlError::Host(_))), "{bad}");
        }
    }

    #[test]
    fn display_reads_back() {
        let u = BrokerUrl::parse("broker").unwrap();
        assert_eq!(u.to_string(), "mqtt://broker:1883");
        assert_eq!(u.to_string().parse::<BrokerUrl>(), Ok(u));
        let from_addr = BrokerUrl::from(SocketAddr::from(([127, 0, 0, 1], 40001)));
        assert_eq!(from_addr.to_string(), "mqtt://127.0.0.1:40001");
    }

    #[test]
    fn options_carry_every_setting() {
        let url = BrokerUrl::parse("mqtt://broker:1884").unwrap();
        let secret = Secret("hunter2".into());
        let creds = Credentials::from_config(Some("kiosk"), Some(&secret));
        let o = options(
            &url,
            "kontum-kiosk-1",
            Duration::from_secs(30),
            creds,
            MaxPacket {
                incoming: 4096,
                outgoing: 1024,
            },
        );
        assert_eq!(o.broker_address(), ("broker".into(), 1884));
        assert_eq!(o.client_id(), "kontum-kiosk-1");
        assert_eq!(o.keep_alive(), Duration::from_secs(30));
        assert_eq!(o.max_packet_size(), 4096);
        let login = o.credentials().expect("credentials");
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("kiosk", "hunter2")
        );

        let o = options(&url, "c", Duration::ZERO, None, MaxPacket::both(10));
        assert!(o.credentials().is_none());
    }

    #[test]
    fn a_password_needs_a_user_name() {
        let secret = Secret("x".into());
        assert_eq!(Credentials::from_config(None, Some(&secret)), None);
        let c = Credentials::from_config(Some("u"), None).expect("user alone");
        let o = options(
            &BrokerUrl::new("h", 1),
            "c",
            Duration::from_secs(5),
            Some(c),
            MaxPacket::both(10),
        );
        let login = o.credentials().expect("credentials");
        assert_eq!(login.password, "", "no password: an empty one, as before");
    }
}
