//! Central's own certificate authority, in `{data_dir}/tls/`:
//! - `ca.key` (ECDSA P-256, mode 0600) and `ca.crt`, made at first start, valid 20 years;
//! - `server.crt` and `server.key`: central's HTTPS and the embedded broker, for the names
//!   in `tls.names`; made again when the names change or a third of its life is left;
//! - `client.crt` and `client.key`: central's own MQTT client (common name `central`).
//!
//! A board's certificate (common name its device id, unit its branch) certifies the
//! Ed25519 key it made itself; central never sees a board's private key. The CA's key is
//! P-256, not Ed25519, so browsers accept the chain of central's HTTPS.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
};
use rong_protocol::DeviceId;
use time::OffsetDateTime;

const DAY: Duration = Duration::from_secs(86_400);
/// How long the CA is valid.
const CA_DAYS: u32 = 20 * 365;
/// How long central's server and client certificates are valid.
const SERVER_DAYS: u32 = 365;
/// Certificates start this long before they are made, for clocks a little behind.
const BACKDATE: Duration = Duration::from_secs(3_600);

/// A certificate central made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate, PEM.
    pub pem: String,
    /// When it stops being valid, Unix ms.
    pub not_after_ms: i64,
}

/// Central's CA, loaded.
pub struct Ca {
    dir: PathBuf,
    key: KeyPair,
    cert_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A board's Ed25519 public key, for rcgen to certify.
struct Ed25519Public([u8; 32]);

impl PublicKeyData for Ed25519Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

/// Writes `text` to `path` through a temporary file and a rename, with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a private key file, refusing one its group or others may read.
fn read_private(path: &Path) -> anyhow::Result<String> {
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(anyhow!(
            "{} can be read by others (mode {:o}); run `chmod 600` on it",
            path.display(),
            mode & 0o777
        ));
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A DNS host name: dot-separated labels of letters, digits and inner hyphens.
fn host_name(n: &str) -> bool {
    n.len() <= 253
        && n.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

fn validity(params: &mut CertificateParams, days: u32) -> i64 {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + DAY * days;
    (params.not_after.unix_timestamp_nanos() / 1_000_000) as i64
}

fn ms_of(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_ms() -> i64 {
    ms_of(OffsetDateTime::now_utc())
}

impl Ca {
    /// The directory of central's TLS files.
    pub fn dir_of(data_dir: &Path) -> PathBuf {
        data_dir.join("tls")
    }

    /// Loads the CA in `{data_dir}/tls`, or makes one there at first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Ca> {
        let dir = Ca::dir_of(data_dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (key_path, cert_path) = (dir.join("ca.key"), dir.join("ca.crt"));
        if key_path.exists() && cert_path.exists() {
            let key = KeyPair::from_pem(&read_private(&key_path)?)
                .with_context(|| format!("{} is not a key", key_path.display()))?;
            let cert_pem = std::fs::read_to_string(&cert_path)
                .with_context(|| format!("cannot read {}", cert_path.display()))?;
            let ca = Ca { dir, key, cert_pem };
            ca.issuer()
                .with_context(|| format!("{} is not a CA certificate", cert_path.display()))?;
            return Ok(ca);
        }
        let key = KeyPair::generate().context("cannot make the CA's key")?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Rông central CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(serial());
        validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key).context("cannot make the CA")?;
        write_file(&key_path, &key.serialize_pem(), 0o600)?;
        write_file(&cert_path, &cert.pem(), 0o644)?;
        tracing::info!(dir = %dir.display(), "made central's certificate authority");
        Ok(Ca {
            dir,
            key,
            cert_pem: cert.pem(),
        })
    }

    /// The CA's certificate, PEM: what boards pin.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Where the CA's certificate is (for Mosquitto's `cafile`).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn issuer(&self) -> anyhow::Result<Issuer<'_, &KeyPair>> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key).map_err(|e| anyhow!("{e}"))
    }

    /// A certificate for a board's own Ed25519 key, valid `days`: common name its device
    /// id, unit its branch, for TLS clients only.
    pub fn issue_device(
        &self,
        device: &DeviceId,
        branch: &str,
        key: &rong_identity::PublicKey,
        days: u32,
    ) -> anyhow::Result<Issued> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, device.as_str());
        dn.push(DnType::OrganizationalUnitName, branch);
        params.distinguished_name = dn;
        let uri = format!("urn:rong:device:{device}");
        params.subject_alt_names = vec![SanType::URI(
            uri.try_into().map_err(|e| anyhow!("device id: {e}"))?,
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(serial());
        params.use_authority_key_identifier_extension = true;
        let not_after_ms = validity(&mut params, days);
        let cert = params
            .signed_by(&Ed25519Public(*key.as_bytes()), &self.issuer()?)
            .context("cannot certify the device's key")?;
        Ok(Issued {
            pem: cert.pem(),
            not_after_ms,
        })
    }

    /// Central's server certificate and key (PEM) for `names` (host names and addresses
    /// devices and browsers use), from `tls/server.*`, made again when missing, made for
    /// other names, or with a third of its life left.
    pub fn server(&self, names: &[String]) -> anyhow::Result<(String, String)> {
        self.kept("server", names, |params| {
            if names.is_empty() {
                return Err(anyhow!(
                    "tls.names is empty: name the hosts central is reached by"
                ));
            }
            params.subject_alt_names = names
                .iter()
                .map(|n| match n.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) if !host_name(n) => Err(anyhow!(
                        "tls.names {n:?} is neither an IP address nor a host name"
                    )),
                    Err(_) => n
                        .clone()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(|e| anyhow!("tls.names {n:?}: {e}")),
                })
                .collect::<anyhow::Result<_>>()?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            Ok(())
        })
    }

    /// Central's own MQTT client's certificate and key (common name `central`), from
    /// `tls/client.*`, made again like [`Ca::server`]'s.
    pub fn client(&self) -> anyhow::Result<(String, String)> {
        self.kept("client", &["central".to_owned()], |params| {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            Ok(())
        })
    }

    /// A certificate kept in `tls/{name}.crt` with its key and the names it was made for.
    fn kept(
        &self,
        name: &str,
        names: &[String],
        fill: impl FnOnce(&mut CertificateParams) -> anyhow::Result<()>,
    ) -> anyhow::Result<(String, String)> {
        let (crt, key, meta) = (
            self.dir.join(format!("{name}.crt")),
            self.dir.join(format!("{name}.key")),
            self.dir.join(format!("{name}.json")),
        );
        let wanted = serde_json::to_string(names)?;
        if let (Ok(c), Ok(k), Ok(m)) = (
            std::fs::read_to_string(&crt),
            read_private(&key),
            std::fs::read_to_string(&meta),
        ) {
            let kept: Option<(String, i64, i64)> = serde_json::from_str(&m).ok();
            if let Some((names_then, made, until)) = kept {
                let left = until - now_ms();
                if names_then == wanted && left > (until - made) / 3 {
                    return Ok((c, k));
                }
            }
        }
        let key_pair = KeyPair::generate().context("cannot make a key")?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().map_or("central", |n| n));
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(serial());
        params.use_authority_key_identifier_extension = true;
        fill(&mut params)?;
        let made = now_ms();
        let until = validity(&mut params, SERVER_DAYS);
        let cert = params
            .signed_by(&key_pair, &self.issuer()?)
            .with_context(|| format!("cannot make central's {name} certificate"))?;
        // The chain: the certificate, then the CA's, so a client that pins the CA by its
        // fingerprint finds it in the handshake.
        let chain = format!("{}{}", cert.pem(), self.cert_pem);
        let key_pem = key_pair.serialize_pem();
        write_file(&key, &key_pem, 0o600)?;
        write_file(&crt, &chain, 0o644)?;
        write_file(
            &meta,
            &serde_json::to_string(&(wanted, made, until))?,
            0o644,
        )?;
        tracing::info!(certificate = %crt.display(), "made central's {name} certificate");
        Ok((chain, key_pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_its_key_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let key = dir.path().join("tls/ca.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Ca::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.cert_pem(), again.cert_pem(), "loaded, not made again");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Ca::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn server_certificates_are_kept_until_their_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let first = ca.server(&names).unwrap();
        assert_eq!(ca.server(&names).unwrap(), first);
        let other = ca.server(&["central.example".to_owned()]).unwrap();
        assert_ne!(other, first);
        assert!(
            other.0.ends_with(ca.cert_pem()),
            "the chain ends with the CA"
        );
        assert!(ca.server(&["not a name!".to_owned()]).is_err());
    }
}
