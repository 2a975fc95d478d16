//! The board's identity: its Ed25519 key (`{data_dir}/device.key`, mode 0600, never sent)
//! and what central answered at enrolment (`{data_dir}/identity.json`: device id, branch,
//! role and central's public key, pinned).
//!
//! At first start the agent has neither: it makes its key, and sends a one-time code
//! (config `enrolment_code` or `enrolment_code_file`) with the public key to central
//! ([`rong_identity::ENROL_PATH`]). A refused code is logged and tried again slowly; the
//! status says `unenrolled` meanwhile. Once enrolled, its device id and branch come from the
//! identity, whatever the config says, and every request to central is signed ([`send`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rong_identity::http_auth::SERVER_TIME_HEADER;
use rong_identity::{EnrolRequest, EnrolResponse, KeyPair, PublicKey, Role, Signer};
use rong_protocol::{BranchId, DeviceId};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The identity file's name in the data dir.
const IDENTITY_FILE: &str = "identity.json";
/// The key file's name in the data dir.
const KEY_FILE: &str = "device.key";
/// Between enrolment attempts after a refusal.
const RETRY: Duration = Duration::from_secs(30);

/// Why the board could not enrol (this time).
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// No code is configured.
    #[error("no enrolment code: set enrolment_code or enrolment_code_file in the config, or run `edge-agent ctl enrol`")]
    NoCode,
    /// Central refused the code (wrong, expired or already used).
    #[error("central refused the enrolment code: {0}")]
    Refused(String),
    /// Central could not be reached or answered oddly.
    #[error("enrolment failed: {0}")]
    Failed(String),
    /// The key or identity file failed.
    #[error("identity files: {0}")]
    Files(String),
}

/// What `identity.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IdentityFile {
    device: DeviceId,
    branch: BranchId,
    role: Role,
    central_public_key: String,
}

/// An enrolled board's identity.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Its device id.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// What it is for.
    pub role: Role,
    /// Central's public key, pinned at enrolment (the signed-message piece checks
    /// central's messages with it).
    pub central_key: PublicKey,
    /// Signs its requests to central.
    pub signer: Arc<Signer>,
    /// Central's CA and the board's certificate (none from a central older than TLS).
    pub tls: Option<Arc<crate::tls::BoardTls>>,
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

impl Identity {
    /// The identity in `data_dir`, if the board is enrolled.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<Identity>> {
        let path = data_dir.join(IDENTITY_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let file: IdentityFile = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let key = KeyPair::load(&key_path(data_dir))?;
        let tls = crate::tls::BoardTls::load(data_dir, &key.tls_key())?.map(Arc::new);
        Ok(Some(Identity::from_file(file, key, tls)?))
    }

    fn from_file(
        file: IdentityFile,
        key: KeyPair,
        tls: Option<Arc<crate::tls::BoardTls>>,
    ) -> anyhow::Result<Identity> {
        Ok(Identity {
            tls,
            central_key: PublicKey::from_base64(&file.central_public_key)?,
            signer: Arc::new(Signer::new(file.device.as_str(), key)),
            device: file.device,
            branch: file.branch,
            role: file.role,
        })
    }

    /// Puts the identity's device id and branch in `config`, logging a config that says
    /// otherwise (the identity wins: central knows the board by it).
    pub fn apply(&self, config: &mut Config) {
        if config.device != self.device || config.branch != self.branch {
            tracing::warn!(
                config_device = %config.device, config_branch = %config.branch,
                device = %self.device, branch = %self.branch,
                "the config names another device or branch than this board's enrolment; using the enrolment"
            );
        }
        config.device = self.device.clone();
        config.branch = self.branch.clone();
    }
}

/// The code the config gives, if any.
pub fn configured_code(config: &Config) -> Result<String, EnrolError> {
    if let Some(code) = &config.enrolment_code {
        return Ok(code.0.clone());
    }
    if let Some(file) = &config.enrolment_code_file {
        return std::fs::read_to_string(file)
            .map(|s| s.trim().to_owned())
            .map_err(|e| EnrolError::Files(format!("{}: {e}", file.display())));
    }
    Err(EnrolError::NoCode)
}

/// Enrols with `code`: makes (or reuses) the board's key, sends the code and the public key
/// to central, and keeps what it answers.
pub async fn enrol(config: &Config, code: &str) -> Result<Identity, EnrolError> {
    let files = |e: &dyn std::fmt::Display| EnrolError::Files(e.to_string());
    let kp = key_path(&config.data_dir);
    let key = tokio::task::spawn_blocking(move || KeyPair::load_or_create(&kp))
        .await
        .map_err(|e| files(&e))?
        .map_err(|e| files(&e))?;
    let url = format!(
        "{}{}",
        config.central.url.trim_end_matches('/'),
        rong_identity::ENROL_PATH
    );
    let ca = enrolment_ca(config)?;
    let http = crate::tls::http_client(
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30)),
        ca.as_deref(),
    )
    .map_err(|e| EnrolError::Failed(e.to_string()))?;
    let r = http
        .post(&url)
        .json(&EnrolRequest {
            code: code.trim().to_owned(),
            public_key: key.public().to_base64(),
        })
        .send()
        .await
        .map_err(|e| EnrolError::Failed(format!("{url}: {e}")))?;
    let status = r.status();
    if !status.is_success() {
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        let why = body["error"]
            .as_str()
            .unwrap_or("no reason given")
            .to_owned();
        return Err(if status.is_client_error() {
            EnrolError::Refused(format!("{status}: {why}"))
        } else {
            EnrolError::Failed(format!("{status}: {why}"))
        });
    }
    let got: EnrolResponse = r
        .json()
        .await
        .map_err(|e| EnrolError::Failed(format!("answer: {e}")))?;
    let file = IdentityFile {
        device: DeviceId::new(got.device).map_err(|e| EnrolError::Failed(e.to_string()))?,
        branch: BranchId::new(got.branch).map_err(|e| EnrolError::Failed(e.to_string()))?,
        role: got.role,
        central_public_key: got.central_public_key,
    };
    let tls = match got.tls {
        Some(cert) => {
            if let Some(ca) = &ca {
                if ca.trim() != cert.ca.trim() {
                    return Err(EnrolError::Failed(
                        "central answered with another CA than central.ca_file".into(),
                    ));
                }
            }
            let (dir, tls_key) = (config.data_dir.clone(), key.tls_key());
            let saved = tokio::task::spawn_blocking(move || {
                crate::tls::BoardTls::save(&dir, &tls_key, &cert)
            })
            .await
            .map_err(|e| files(&e))?
            .map_err(|e| files(&e))?;
            Some(Arc::new(saved))
        }
        None => None,
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| files(&e))?;
    let dir = config.data_dir.clone();
    tokio::task::spawn_blocking(move || {
        crate::host::write_atomically(&dir.join(IDENTITY_FILE), &json)
    })
    .await
    .map_err(|e| files(&e))?
    .map_err(|e| files(&e))?;
    tracing::info!(device = %file.device, branch = %file.branch, role = file.role.as_str(), certificate = tls.is_some(), "enrolled with central");
    Identity::from_file(file, key, tls).map_err(|e| files(&e))
}

/// The CA an `https://` central must prove itself with before the board is enrolled: the
/// one pinned already (an earlier enrolment), or `central.ca_file`. None for `http://`.
fn enrolment_ca(config: &Config) -> Result<Option<String>, EnrolError> {
    if !config.central.url.starts_with("https://") {
        return Ok(None);
    }
    let pinned = config.data_dir.join(crate::tls::CA_FILE);
    let path = match (&config.central.ca_file, pinned.exists()) {
        (_, true) => pinned,
        (Some(file), false) => file.clone(),
        (None, false) => {
            return Err(EnrolError::Failed(format!(
                "central.url {} is https, and central's CA is not known yet: set \
                 central.ca_file (RONG_CENTRAL_CA_FILE) to a copy of central's tls/ca.crt",
                config.central.url
            )))
        }
    };
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|e| EnrolError::Files(format!("{}: {e}", path.display())))
}

/// Gives a board an identity without a code: makes its key and writes the identity file,
/// as an image built for one board (or a test) would carry them. Central must know the key
/// already; `central device enrol` and a code are the ordinary way.
pub fn provision(
    data_dir: &Path,
    device: &DeviceId,
    branch: &BranchId,
    role: Role,
    central_key: &PublicKey,
) -> anyhow::Result<Identity> {
    std::fs::create_dir_all(data_dir)?;
    let key = KeyPair::load_or_create(&key_path(data_dir))?;
    let file = IdentityFile {
        device: device.clone(),
        branch: branch.clone(),
        role,
        central_public_key: central_key.to_base64(),
    };
    crate::host::write_atomically(
        &data_dir.join(IDENTITY_FILE),
        &serde_json::to_vec_pretty(&file)?,
    )?;
    Identity::from_file(file, key, None)
}

/// One attempt with the configured code; logs why it failed.
pub async fn try_configured(config: &Config) -> Option<Identity> {
    let result = match configured_code(config) {
        Ok(code) => enrol(config, &code).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::error!(error = %e, "this board is not enrolled");
            None
        }
    }
}

/// Tries the configured code every [`RETRY`], and at once a code handed in (by `edge-agent
/// ctl enrol` or scanned at the barcode reader), until one works.
pub async fn keep_trying(
    config: Config,
    mut handed: tokio::sync::mpsc::Receiver<String>,
) -> Identity {
    loop {
        let code = tokio::select! {
            _ = tokio::time::sleep(RETRY) => configured_code(&config),
            Some(code) = handed.recv() => Ok(code),
        };
        let result = match code {
            Ok(code) => enrol(&config, &code).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(id) => return id,
            Err(e) => {
                tracing::error!(error = %e, retry_in_s = RETRY.as_secs(), "this board is not enrolled")
            }
        }
    }
}

/// Hands every scanned barcode that looks like an enrolment code (the QR code shown by
/// the dashboard or `central device enrol`, read by the board's barcode reader) to the
/// enrolment loop, until that loop is gone.
pub async fn scanned_codes(
    mut scans: tokio::sync::broadcast::Receiver<rong_protocol::api::Push>,
    handed: tokio::sync::mpsc::Sender<String>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match scans.recv().await {
            Ok(rong_protocol::api::Push::Barcode { code })
                if rong_identity::EnrolmentCode::looks_like_one(&code) =>
            {
                tracing::info!("an enrolment code was scanned; trying it");
                if handed.send(code).await.is_err() {
                    return;
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// How often the certificate's age is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// After a failed renewal.
const RENEW_RETRY: Duration = Duration::from_secs(600);

/// Asks central for a new certificate for the board's key, and presents it from now on.
pub async fn renew(
    tls: &Arc<crate::tls::BoardTls>,
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
    let r = send(http, signer, req).await?;
    if !r.status().is_success() {
        anyhow::bail!("{url}: {}", r.status());
    }
    let cert: rong_identity::Certificate = r.json().await?;
    let t = tls.clone();
    tokio::task::spawn_blocking(move || t.install(&cert)).await??;
    tracing::info!(expires_ms = tls.expires_ms(), "board certificate renewed");
    Ok(())
}

/// Renews the certificate when due, until `stop` turns true.
pub async fn keep_renewed(
    tls: Arc<crate::tls::BoardTls>,
    signer: Arc<Signer>,
    central_url: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match crate::tls::http_client(
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
            match renew(&tls, &http, &signer, &central_url).await {
                Ok(()) => CHECK_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, expires_ms = tls.expires_ms(), "cannot renew the board certificate; trying again later");
                    RENEW_RETRY
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

/// Sends `req` signed by `signer`. When central refuses it for the board's clock (a 401
/// that names central's time), takes central's time and sends it once more.
pub async fn send(
    http: &reqwest::Client,
    signer: &Signer,
    req: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let retry = req.try_clone();
    let r = http.execute(signed(signer, req)).await?;
    if r.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(r);
    }
    let server_ms = r
        .headers()
        .get(SERVER_TIME_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    match (server_ms, retry) {
        (Some(server_ms), Some(retry)) => {
            tracing::warn!(
                offset_ms = server_ms - crate::clock::now_ms(),
                "this board's clock is off from central's; signing at central's time and trying again"
            );
            signer.set_server_time(server_ms);
            http.execute(signed(signer, retry)).await
        }
        _ => {
            tracing::error!(
                device = signer.device(),
                "central refused this board's credentials (revoked, or enrolled anew elsewhere?)"
            );
            Ok(r)
        }
    }
}

fn signed(signer: &Signer, mut req: reqwest::Request) -> reqwest::Request {
    let url = req.url();
    let pq = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let auth = signer.authorization(req.method().as_str(), &pq);
    if let Ok(v) = reqwest::header::HeaderValue::from_str(&auth) {
        req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    /// Answers the first request 401 "your clock is off" naming `server_ms`, the second
    /// 200; hands back each request's `Authorization` value.
    fn skewed_server(server_ms: i64) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let t = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answer in [
                format!("HTTP/1.1 401 Unauthorized\r\n{SERVER_TIME_HEADER}: {server_ms}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned(),
            ] {
                let (mut conn, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    let name = "authorization: ".len();
                    if line.len() > name && line[..name].eq_ignore_ascii_case("authorization: ") {
                        seen.push(line[name..].trim().to_owned());
                    }
                    line.clear();
                }
                conn.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        (url, t)
    }

    #[tokio::test]
    async fn a_board_whose_clock_is_off_takes_centrals_time_and_tries_once_more() {
        let server_ms = crate::clock::now_ms() - 3 * 3_600_000;
        let (url, server) = skewed_server(server_ms);
        let signer = Signer::new("kontum-kiosk-1", KeyPair::generate());
        let http = crate::tls::http_client(reqwest::Client::builder(), None).unwrap();
        let req = http
            .get(format!("{url}/api/v1/snapshot/kontum"))
            .build()
            .unwrap();
        let r = send(&http, &signer, req).await.unwrap();
        assert_eq!(r.status(), 200);
        let seen = server.join().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let ts = |v: &str| rong_identity::AuthHeader::parse(v).unwrap().ts_ms;
        assert!((ts(&seen[0]) - crate::clock::now_ms()).abs() < 60_000);
        assert!(
            (ts(&seen[1]) - server_ms).abs() < 60_000,
            "signed at central's time"
        );
        let key = signer.public();
        let h = rong_identity::AuthHeader::parse(&seen[1]).unwrap();
        assert_eq!(
            h.verify(&key, "GET", "/api/v1/snapshot/kontum", server_ms),
            Ok(())
        );
    }

    #[test]
    fn an_identity_overrides_the_config_and_its_key_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let central = KeyPair::generate().public();
        let id = provision(
            dir.path(),
            &DeviceId::new("dakto-kiosk-2").unwrap(),
            &BranchId::new("dakto").unwrap(),
            Role::Kiosk,
            &central,
        )
        .unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = Identity::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.central_key, central);
        assert_eq!(loaded.signer.public(), id.signer.public());
        let mut config = Config::default();
        loaded.apply(&mut config);
        assert_eq!(
            (config.device.as_str(), config.branch.as_str()),
            ("dakto-kiosk-2", "dakto")
        );
    }
}
