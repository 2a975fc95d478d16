//! The board's TLS: central's CA, pinned at enrolment (`{data_dir}/ca.crt`), and the
//! board's certificate for its own key (`{data_dir}/device.crt`, with its validity in
//! `device-cert.json`).
//!
//! - HTTPS to central (snapshots, uploads, renewal) trusts that CA and nothing else.
//! - MQTT over TLS (`mqtts://`) presents the certificate; a renewed one is presented from
//!   the next connection on, without a restart.
//! - [`keep_renewed`] renews the certificate once a third of its life is left, with a
//!   signed request to central, which certifies the key it enrolled (never one sent).
//!
//! Before enrolment a board reaches an `https://` central only with its CA given in the
//! config (`central.ca_file`), copied from central's `{data_dir}/tls/ca.crt`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rong_identity::tls::{ClientIdentity, RenewableIdentity};
use rong_identity::{Certificate, Signer};
use rustls::pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};

/// Central's CA, pinned.
pub const CA_FILE: &str = "ca.crt";
/// The board's certificate.
pub const CERT_FILE: &str = "device.crt";
/// When the certificate was issued and when it expires.
const VALIDITY_FILE: &str = "device-cert.json";
/// How often the certificate's age is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// After a failed renewal.
const RETRY: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Validity {
    issued_ms: i64,
    expires_ms: i64,
}

/// The board's TLS material.
pub struct BoardTls {
    dir: PathBuf,
    ca_pem: String,
    key: PrivateKeyDer<'static>,
    identity: Arc<RenewableIdentity>,
    issued_ms: AtomicI64,
    expires_ms: AtomicI64,
}

impl std::fmt::Debug for BoardTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoardTls")
            .field("dir", &self.dir)
            .field("expires_ms", &self.expires_ms.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl BoardTls {
    /// The certificate and CA kept in `dir`, if the board has them (a board enrolled by a
    /// central older than TLS has none).
    pub fn load(dir: &Path, key: &PrivateKeyDer<'static>) -> anyhow::Result<Option<BoardTls>> {
        let ca = dir.join(CA_FILE);
        if !ca.exists() {
            return Ok(None);
        }
        let ca_pem = std::fs::read_to_string(&ca)
            .with_context(|| format!("cannot read {}", ca.display()))?;
        let cert = dir.join(CERT_FILE);
        let cert_pem = std::fs::read_to_string(&cert)
            .with_context(|| format!("cannot read {}", cert.display()))?;
        let v: Validity = serde_json::from_slice(&std::fs::read(dir.join(VALIDITY_FILE))?)
            .context("device-cert.json")?;
        Ok(Some(BoardTls {
            dir: dir.to_owned(),
            identity: RenewableIdentity::new(identity(&cert_pem, key)?)?,
            ca_pem,
            key: key.clone_key(),
            issued_ms: AtomicI64::new(v.issued_ms),
            expires_ms: AtomicI64::new(v.expires_ms),
        }))
    }

    /// Keeps what central answered in `dir` (the CA only when it is not pinned yet, or is
    /// the same) and loads it.
    pub fn save(
        dir: &Path,
        key: &PrivateKeyDer<'static>,
        cert: &Certificate,
    ) -> anyhow::Result<BoardTls> {
        let ca = dir.join(CA_FILE);
        if let Ok(pinned) = std::fs::read_to_string(&ca) {
            if pinned.trim() != cert.ca.trim() {
                anyhow::bail!(
                    "central answered with another CA than the one pinned in {}; refusing it",
                    ca.display()
                );
            }
        }
        // Checked before anything is written.
        identity(&cert.certificate, key)?;
        rong_identity::tls::roots(&cert.ca)?;
        let validity = Validity {
            issued_ms: crate::clock::now_ms(),
            expires_ms: cert.expires_ms,
        };
        crate::identity::write_atomically(&dir.join(CERT_FILE), cert.certificate.as_bytes())?;
        crate::identity::write_atomically(
            &dir.join(VALIDITY_FILE),
            &serde_json::to_vec(&validity)?,
        )?;
        crate::identity::write_atomically(&ca, cert.ca.as_bytes())?;
        BoardTls::load(dir, key)?.context("the certificate just written is missing")
    }

    /// Central's CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// When the certificate expires, Unix ms.
    pub fn expires_ms(&self) -> i64 {
        self.expires_ms.load(Ordering::Relaxed)
    }

    /// Whether a third or less of the certificate's life is left at `now_ms`.
    pub fn renewal_due(&self, now_ms: i64) -> bool {
        let (issued, expires) = (self.issued_ms.load(Ordering::Relaxed), self.expires_ms());
        now_ms >= expires - (expires - issued).max(0) / 3
    }

    /// For MQTT over TLS: trusts central's CA, presents the current certificate.
    pub fn mqtt_config(&self) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        Ok(Arc::new(rong_identity::tls::renewable_client_config(
            &self.ca_pem,
            self.identity.clone(),
        )?))
    }

    /// Asks central for a new certificate and presents it from now on.
    pub async fn renew(
        &self,
        http: &reqwest::Client,
        signer: &Signer,
        central_url: &str,
    ) -> anyhow::Result<()> {
        let url = format!(
            "{}{}",
            central_url.trim_end_matches('/'),
            rong_identity::CERTIFICATE_PATH
        );
        let req = http.post(&url).build()?;
        let r = crate::identity::send(http, signer, req).await?;
        if !r.status().is_success() {
            anyhow::bail!("{url}: {}", r.status());
        }
        let cert: Certificate = r.json().await.context("central's answer")?;
        let (dir, key) = (self.dir.clone(), self.key.clone_key());
        let pem = cert.certificate.clone();
        let fresh =
            tokio::task::spawn_blocking(move || BoardTls::save(&dir, &key, &cert)).await??;
        self.identity.replace(identity(&pem, &self.key)?)?;
        self.issued_ms
            .store(fresh.issued_ms.load(Ordering::Relaxed), Ordering::Relaxed);
        self.expires_ms.store(fresh.expires_ms(), Ordering::Relaxed);
        tracing::info!(expires_ms = self.expires_ms(), "board certificate renewed");
        Ok(())
    }
}

/// A TLS client identity: `cert_pem` for `key`.
fn identity(cert_pem: &str, key: &PrivateKeyDer<'static>) -> anyhow::Result<ClientIdentity> {
    Ok(ClientIdentity {
        chain: rong_identity::tls::certificates("the device certificate", cert_pem)?,
        key: key.clone_key(),
    })
}

/// An HTTP client for central: with `ca_pem`, one that trusts central's CA only.
pub fn http_client(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    rong_identity::tls::install_provider();
    let builder = match ca_pem {
        Some(ca) => builder.tls_backend_preconfigured(rong_identity::tls::client_config(ca, None)?),
        None => builder,
    };
    Ok(builder.build()?)
}

/// Renews the certificate when due, until `stop` turns true.
pub async fn keep_renewed(
    tls: Arc<BoardTls>,
    signer: Arc<Signer>,
    central_url: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match http_client(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30)),
        Some(tls.ca_pem()),
    ) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot make the renewal client");
            return;
        }
    };
    loop {
        let wait = if tls.renewal_due(crate::clock::now_ms()) {
            match tls.renew(&http, &signer, &central_url).await {
                Ok(()) => CHECK_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, expires_ms = tls.expires_ms(), "cannot renew the board certificate; trying again later");
                    RETRY
                }
            }
        } else {
            CHECK_EVERY
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validity(issued_ms: i64, expires_ms: i64) -> BoardTls {
        let key = rong_identity::KeyPair::generate();
        BoardTls {
            dir: PathBuf::new(),
            ca_pem: String::new(),
            identity: RenewableIdentity::new(ClientIdentity {
                chain: vec![],
                key: key.tls_key(),
            })
            .unwrap(),
            key: key.tls_key(),
            issued_ms: AtomicI64::new(issued_ms),
            expires_ms: AtomicI64::new(expires_ms),
        }
    }

    #[test]
    fn renewal_is_due_with_a_third_of_the_life_left() {
        let t = validity(0, 90);
        assert!(!t.renewal_due(0));
        assert!(!t.renewal_due(59));
        assert!(t.renewal_due(60));
        assert!(t.renewal_due(200), "expired");
    }
}
