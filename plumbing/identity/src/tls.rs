//! TLS with central's own certificate authority, for both sides of the wire.
//!
//! Central's CA (made by central, see `central/server/src/tls/ca.rs`) certifies each board's
//! Ed25519 key at enrolment, central's servers, and central's own MQTT client. A board
//! trusts that CA only, pinned at enrolment: no public root can speak for central. Every
//! configuration here uses rustls with its `ring` provider.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};

use crate::keys::KeyPair;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM text held no certificate, or a bad one.
    #[error("{what}: {detail}")]
    Pem {
        /// Which text.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// rustls refused the combination.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn pem_error(what: &'static str) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError {
    move |e| TlsError::Pem {
        what,
        detail: e.to_string(),
    }
}

/// The crypto every Rông TLS configuration uses: rustls's `ring` provider.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes rustls's `ring` provider the process's default, once (later calls do nothing).
/// reqwest's TLS, built without a provider of its own, needs it before any client is made.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every certificate in `pem`, in order; an error when there is none.
pub fn certificates(
    what: &'static str,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(what))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            detail: "no certificate in it".into(),
        });
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, SEC1 or PKCS#1).
pub fn private_key(what: &'static str, pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(pem_error(what))
}

/// A trust store holding the certificates in `ca_pem` and nothing else.
pub fn roots(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates("central's CA", ca_pem)? {
        store.add(cert)?;
    }
    Ok(store)
}

/// The SHA-256 of the first certificate in `pem`, as lowercase hex: how a CA is named
/// for an administrator to compare (`openssl x509 -fingerprint -sha256` shows the same
/// bytes, in capitals with colons).
pub fn fingerprint(pem: &str) -> Result<String, TlsError> {
    let first = certificates("certificate", pem)?.remove(0);
    Ok(Sha256::digest(first.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl KeyPair {
    /// The key as PKCS#8 (RFC 8410), the form rustls signs TLS handshakes with.
    pub fn tls_key(&self) -> PrivateKeyDer<'static> {
        // PKCS#8 v1 for Ed25519: version 0, the algorithm id 1.3.101.112, and the 32-byte
        // seed as an OCTET STRING inside the privateKey OCTET STRING.
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = PREFIX.to_vec();
        der.extend_from_slice(&self.0.to_bytes());
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))
    }
}

/// Who a client is: its certificate chain (PEM) and its key.
pub struct ClientIdentity {
    /// The certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// A board's identity: its certificate from central and its own Ed25519 key.
    pub fn device(cert_pem: &str, key: &KeyPair) -> Result<ClientIdentity, TlsError> {
        Ok(ClientIdentity {
            chain: certificates("the device certificate", cert_pem)?,
            key: key.tls_key(),
        })
    }

    /// An identity from PEM texts (central's own MQTT client).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ClientIdentity, TlsError> {
        Ok(ClientIdentity {
            chain: certificates("the client certificate", cert_pem)?,
            key: private_key("the client key", key_pem)?,
        })
    }
}

/// A client that trusts only `ca_pem` and, given an identity, proves it with a certificate.
pub fn client_config(
    ca_pem: &str,
    identity: Option<ClientIdentity>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?);
    Ok(match identity {
        Some(id) => builder.with_client_auth_cert(id.chain, id.key)?,
        None => builder.with_no_client_auth(),
    })
}

/// A board's client certificate that can be swapped when it is renewed: handshakes made
/// after [`RenewableIdentity::replace`] present the new one; connections already open
/// carry on.
pub struct RenewableIdentity {
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
}

impl std::fmt::Debug for RenewableIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenewableIdentity")
    }
}

fn certified(id: ClientIdentity) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
    let key = provider().key_provider.load_private_key(id.key)?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(id.chain, key)))
}

impl RenewableIdentity {
    /// Starts with `id`.
    pub fn new(id: ClientIdentity) -> Result<Arc<RenewableIdentity>, TlsError> {
        Ok(Arc::new(RenewableIdentity {
            current: std::sync::RwLock::new(certified(id)?),
        }))
    }

    /// Presents `id` from now on.
    pub fn replace(&self, id: ClientIdentity) -> Result<(), TlsError> {
        let new = certified(id)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = new;
        Ok(())
    }
}

impl rustls::client::ResolvesClientCert for RenewableIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A client that trusts only `ca_pem` and presents whatever certificate `identity` holds
/// at each handshake.
pub fn renewable_client_config(
    ca_pem: &str,
    identity: Arc<RenewableIdentity>,
) -> Result<ClientConfig, TlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_pem)?)
        .with_client_cert_resolver(identity))
}

/// Whom a server asks for a certificate.
pub enum ClientAuth<'a> {
    /// Nobody (browsers at central's HTTPS; devices sign their requests instead).
    None,
    /// Every client, with a certificate from the CA in this PEM (the MQTT broker).
    Required(&'a str),
}

/// A server presenting `cert_pem` (the certificate, then its chain) with `key_pem`.
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    clients: ClientAuth<'_>,
) -> Result<ServerConfig, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match clients {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required(ca_pem) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider())
                    .build()
                    .map_err(|e| TlsError::Pem {
                        what: "central's CA",
                        detail: e.to_string(),
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_single_cert(
        certificates("the server certificate", cert_pem)?,
        private_key("the server key", key_pem)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_key_becomes_a_key_rustls_signs_with() {
        let key = KeyPair::generate();
        let der = key.tls_key();
        let signer = provider()
            .key_provider
            .load_private_key(der)
            .expect("rustls takes the PKCS#8 Ed25519 key");
        assert_eq!(signer.algorithm(), rustls::SignatureAlgorithm::ED25519);
    }

    #[test]
    fn pem_without_a_certificate_is_a_clear_error() {
        let e = certificates("central's CA", "not a certificate").unwrap_err();
        assert!(e.to_string().contains("central's CA"), "{e}");
        assert!(client_config("", None).is_err());
        assert!(fingerprint("").is_err());
    }
}
