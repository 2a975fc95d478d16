//! Central's TLS: its own certificate authority ([`ca`]), HTTPS for its HTTP side
//! ([`https`]), the embedded broker's TLS front door ([`mqtt_front`]) and central's own
//! MQTT client's certificate (for an external broker over TLS). `[tls] enabled = true` turns them on; the CA exists either way, because
//! every enrolled board gets a certificate from it (for Mosquitto with TLS, or a later
//! switch to TLS).

pub mod ca;
pub mod https;
pub mod mqtt_front;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use ca::{Ca, Issued};

/// `[tls]`: HTTPS and MQTT over TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS (with HSTS and secure cookies) and, when the broker is embedded, MQTT
    /// over TLS with a certificate from central's CA required of every client.
    pub enabled: bool,
    /// The host names and addresses boards and browsers reach central by: the names on
    /// central's own server certificate.
    pub names: Vec<String>,
    /// HTTPS with a certificate from elsewhere (the library's own, or a public one): its
    /// chain, PEM. Unset: central's CA makes one for `names`. The broker always uses
    /// central's own.
    pub cert_file: Option<PathBuf>,
    /// The key of `cert_file`, PEM.
    pub key_file: Option<PathBuf>,
    /// How long a board's certificate is valid; boards renew theirs when a third is left.
    pub device_cert_days: u32,
    /// `Strict-Transport-Security: max-age` in seconds, sent over HTTPS.
    pub hsts_max_age_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            enabled: false,
            names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            cert_file: None,
            key_file: None,
            device_cert_days: 90,
            hsts_max_age_secs: 31_536_000,
        }
    }
}

impl TlsConfig {
    /// HTTPS's certificate chain and key (PEM): the configured files, or central's own
    /// server certificate `own` (from [`Ca::server`]).
    pub fn http_identity(&self, own: &(String, String)) -> anyhow::Result<(String, String)> {
        use anyhow::Context;
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Ok((
                std::fs::read_to_string(c)
                    .with_context(|| format!("tls.cert_file {}", c.display()))?,
                std::fs::read_to_string(k)
                    .with_context(|| format!("tls.key_file {}", k.display()))?,
            )),
            (None, None) => Ok(own.clone()),
            _ => Err(anyhow::anyhow!(
                "tls.cert_file and tls.key_file go together: set both or neither"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_identity::tls::{client_config, server_config, ClientAuth, ClientIdentity};
    use rong_identity::KeyPair;
    use rong_protocol::DeviceId;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TLS handshake over an in-memory pipe; answers the byte the server read.
    async fn handshake(
        client: rustls::ClientConfig,
        server: rustls::ServerConfig,
        name: &str,
    ) -> Result<u8, String> {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let srv = tokio::spawn(async move {
            let mut s = acceptor.accept(b).await.map_err(|e| e.to_string())?;
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
            Ok::<u8, String>(byte[0])
        });
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        let sent = async {
            let mut c = connector
                .connect(name, a)
                .await
                .map_err(|e| e.to_string())?;
            c.write_all(&[42]).await.map_err(|e| e.to_string())?;
            c.flush().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(c)
        }
        .await;
        // The client stays open until the server has read (it writes its session tickets).
        let got = srv.await.unwrap();
        sent.and(got)
    }

    #[tokio::test]
    async fn a_board_with_its_certificate_gets_through_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let (cert, key) = ca.server(&["localhost".to_owned()]).unwrap();
        let broker = || server_config(&cert, &key, ClientAuth::Required(ca.cert_pem())).unwrap();
        let board = KeyPair::generate();
        let device = DeviceId::new("kontum-kiosk-1").unwrap();
        let issued = ca
            .issue_device(&device, "kontum", &board.public(), 90)
            .unwrap();
        let id = ClientIdentity::device(&issued.pem, &board).unwrap();
        let client = client_config(ca.cert_pem(), Some(id)).unwrap();
        assert_eq!(handshake(client, broker(), "localhost").await, Ok(42));

        // No certificate.
        let bare = client_config(ca.cert_pem(), None).unwrap();
        assert!(handshake(bare, broker(), "localhost").await.is_err());
        // A certificate for another key than the one the board signs with.
        // (rustls will not even sign a handshake with a key the certificate does not carry;
        // a client that tried would fail the server's check of its signature.)
        let stolen = ClientIdentity::device(&issued.pem, &KeyPair::generate()).unwrap();
        assert!(client_config(ca.cert_pem(), Some(stolen)).is_err());
        // A certificate from another CA.
        let other_dir = tempfile::tempdir().unwrap();
        let other = Ca::load_or_create(other_dir.path()).unwrap();
        let foreign = other
            .issue_device(&device, "kontum", &board.public(), 90)
            .unwrap();
        let id = ClientIdentity::device(&foreign.pem, &board).unwrap();
        let client = client_config(ca.cert_pem(), Some(id)).unwrap();
        assert!(handshake(client, broker(), "localhost").await.is_err());
        // A board that trusts only its pinned CA refuses a server another CA certified.
        let (ocert, okey) = other.server(&["localhost".to_owned()]).unwrap();
        let id = ClientIdentity::device(&issued.pem, &board).unwrap();
        let client = client_config(ca.cert_pem(), Some(id)).unwrap();
        let impostor = server_config(&ocert, &okey, ClientAuth::None).unwrap();
        assert!(handshake(client, impostor, "localhost").await.is_err());
        // Nor a name the certificate does not carry.
        let id = ClientIdentity::device(&issued.pem, &board).unwrap();
        let client = client_config(ca.cert_pem(), Some(id)).unwrap();
        assert!(handshake(client, broker(), "elsewhere.example")
            .await
            .is_err());
    }

    #[test]
    fn half_a_certificate_setting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let c = TlsConfig {
            cert_file: Some("x.crt".into()),
            ..TlsConfig::default()
        };
        let own = ca.server(&c.names).unwrap();
        let e = c.http_identity(&own).unwrap_err().to_string();
        assert!(e.contains("go together"), "{e}");
    }
}
