//! The board's TLS: central's CA, pinned at enrolment (`{data_dir}/ca.crt`), and the
//! board's certificate for its own key (`{data_dir}/device.crt`, with its validity in
//! `device-cert.json`).
//!
//! - HTTPS to central (snapshots, uploads, renewal) trusts that CA and nothing else.
//! - MQTT over TLS (`mqtts://`) presents the certificate; a renewed one is presented from
//!   the next connection on, without a restart.
//! - `identity::keep_renewed` renews the certificate once a third of its life is left,
//!   with a signed request to central, which certifies the key it enrolled (never one
//!   sent).
//!
//! Before enrolment a board reaches an `https://` central only with its CA given in the
//! config (`central.ca_file`), copied from central's `{data_dir}/tls/ca.crt`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use rong_identity::tls::{ClientIdentity, RenewableIdentity};
use rong_identity::Certificate;
use rustls::pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};

/// Central's CA, pinned.
pub const CA_FILE: &str = "ca.crt";
/// The board's certificate.
pub const CERT_FILE: &str = "device.crt";
/// When the certificate was issued and when it expires.
const VALIDITY_FILE: &str = "device-cert.json";

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

    /// Keeps what central answered at enrolment in `dir` and makes it the board's.
    pub fn save(
        dir: &Path,
        key: &PrivateKeyDer<'static>,
        cert: &Certificate,
    ) -> anyhow::Result<BoardTls> {
        let (id, v) = write(dir, key, cert)?;
        Ok(BoardTls {
            dir: dir.to_owned(),
            ca_pem: cert.ca.clone(),
            key: key.clone_key(),
            identity: RenewableIdentity::new(id)?,
            issued_ms: AtomicI64::new(v.issued_ms),
            expires_ms: AtomicI64::new(v.expires_ms),
        })
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

    /// Keeps `cert` (a renewal central answered) and presents it from now on.
    pub fn install(&self, cert: &Certificate) -> anyhow::Result<()> {
        let (id, v) = write(&self.dir, &self.key, cert)?;
        self.identity.replace(id)?;
        self.issued_ms.store(v.issued_ms, Ordering::Relaxed);
        self.expires_ms.store(v.expires_ms, Ordering::Relaxed);
        Ok(())
    }
}

/// Checks what central answered and writes it to `dir` (the CA only when it is not pinned
/// yet, or is the same); answers the identity it makes and its validity.
fn write(
    dir: &Path,
    key: &PrivateKeyDer<'static>,
    cert: &Certificate,
) -> anyhow::Result<(ClientIdentity, Validity)> {
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
    let id = identity(&cert.certificate, key)?;
    rong_identity::tls::roots(&cert.ca)?;
    let validity = Validity {
        issued_ms: crate::clock::now_ms(),
        expires_ms: cert.expires_ms,
    };
    crate::host::write_atomically(&dir.join(CERT_FILE), cert.certificate.as_bytes())?;
    crate::host::write_atomically(&dir.join(VALIDITY_FILE), &serde_json::to_vec(&validity)?)?;
    crate::host::write_atomically(&ca, cert.ca.as_bytes())?;
    Ok((id, validity))
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
