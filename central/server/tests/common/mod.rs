//! What central's integration tests share: central run in-process on port 0, and the
//! interop tools under `tests/interop/` (with the venv's Python that runs them).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use central::{Config, Ready};
use tokio::sync::oneshot;

/// How long central may take to start or stop.
const T: Duration = Duration::from_secs(20);

/// A config for a central keeping its data under `data_dir`.
pub fn config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_owned(),
        ..Config::default()
    }
}

/// Central serving in-process until [`Running::stop`].
pub struct Running {
    /// Where it listens.
    pub ready: Ready,
    /// Its database.
    pub db: PathBuf,
    scanner: std::sync::OnceLock<std::sync::Arc<rong_identity::Signer>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Starts central with `config` (HTTP and the embedded broker on port 0; the data
/// directory is created) and waits until it is ready.
pub async fn start(mut config: Config) -> Running {
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.broker.listen = "127.0.0.1:0".parse().unwrap();
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let db = config.db_path();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let task = tokio::spawn(central::serve(
        config,
        async move {
            let _ = stop_rx.await;
        },
        Some(ready_tx),
    ));
    let ready = tokio::time::timeout(T, ready_rx)
        .await
        .expect("central ready in time")
        .expect("ready sent");
    Running {
        ready,
        db,
        scanner: std::sync::OnceLock::new(),
        stop: Some(stop_tx),
        task: Some(task),
    }
}

impl Running {
    /// The URL of `path` on central's HTTP side.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.ready.http, path)
    }

    /// Makes a one-time code for `device` of `branch` in the store (as `central device
    /// enrol` does) and answers it.
    pub fn enrolment_code(&self, branch: &str, device: &str, expires_at: i64) -> String {
        let code = rong_identity::EnrolmentCode::generate();
        let mut store = central_store::Store::open(&self.db).unwrap();
        store
            .create_enrolment_code(&central_store::identity::NewCode {
                hash: &code.hash(),
                branch: &rong_protocol::BranchId::new(branch).unwrap(),
                role: "kiosk",
                device: Some(&rong_protocol::DeviceId::new(device).unwrap()),
                created_by: "test",
                now_ms: chrono::Utc::now().timestamp_millis(),
                expires_at,
            })
            .unwrap();
        code.display()
    }

    /// `POST /api/v1/device/enrol` with `code` and `key`'s public half, as it answers.
    pub async fn post_enrol(&self, code: &str, key: &rong_identity::KeyPair) -> reqwest::Response {
        http()
            .post(self.url(rong_identity::ENROL_PATH))
            .json(&rong_identity::EnrolRequest {
                code: code.to_owned(),
                public_key: key.public().to_base64(),
            })
            .send()
            .await
            .unwrap()
    }

    /// Enrols `device` of `branch` the real way (a code from the store, spent at the
    /// enrolment route) and answers its signer.
    pub async fn enrol(&self, branch: &str, device: &str) -> rong_identity::Signer {
        let tomorrow = chrono::Utc::now().timestamp_millis() + 86_400_000;
        let code = self.enrolment_code(branch, device, tomorrow);
        let key = rong_identity::KeyPair::generate();
        let r = self.post_enrol(&code, &key).await;
        assert_eq!(
            r.status(),
            200,
            "enrol {device}: {}",
            r.text().await.unwrap()
        );
        let got: rong_identity::EnrolResponse = r.json().await.unwrap();
        assert_eq!((got.device.as_str(), got.branch.as_str()), (device, branch));
        rong_identity::Signer::new(device, key)
    }

    /// The scanning station `kt-01-scan` of branch `kt-01` (both made in the store at first
    /// use), whose key signs the tests' uploads.
    pub fn scanner(&self) -> &std::sync::Arc<rong_identity::Signer> {
        self.scanner.get_or_init(|| {
            let mut store = central_store::Store::open(&self.db).unwrap();
            let branch = rong_protocol::BranchId::new("kt-01").unwrap();
            store
                .put_ops(&[rong_protocol::delta::Op::PutBranch(
                    rong_protocol::delta::Branch {
                        id: branch.clone(),
                        name: "Kon Tum 01".into(),
                        closed_weekdays: vec![],
                        require_pin: false,
                    },
                )])
                .unwrap();
            let key = rong_identity::KeyPair::generate();
            let device = rong_protocol::DeviceId::new("kt-01-scan").unwrap();
            central_store::identity::enrol_directly(
                &mut store,
                &branch,
                &device,
                &key.public().to_base64(),
                0,
            )
            .unwrap();
            std::sync::Arc::new(rong_identity::Signer::new("kt-01-scan", key))
        })
    }

    /// Stops central and waits until it has stopped cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(T, self.task.take().unwrap())
            .await
            .expect("central stops in time")
            .unwrap()
            .unwrap();
    }
}

/// `tests/interop/{name}` in the repository (read at run time: CI may run a binary
/// built in another checkout).
pub fn interop(name: &str) -> PathBuf {
    repo_root().join("tests/interop").join(name)
}

/// The repository's root: the nearest folder above this crate that holds `Cargo.lock`
/// (read at run time, like [`interop`]).
pub fn repo_root() -> PathBuf {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(PathBuf::from)
        .unwrap_or(manifest)
}

/// The interop venv's Python (`tests/interop/python` finds it and says how to make it).
pub fn python() -> Command {
    Command::new(interop("python"))
}

/// Runs `cmd` to its end and answers its standard output; panics with its errors when
/// it cannot start or fails (`what` names it in the message).
pub fn stdout_of(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The `central` program of this build, keeping its data under `data_dir`, logging only
/// warnings.
pub fn central_cli(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_central"));
    cmd.env("RONG_DATA_DIR", data_dir).env("RUST_LOG", "warn");
    cmd
}

/// The message inside a signed MQTT envelope (the header line dropped, unchecked), or the
/// payload itself when it has none.
pub fn envelope_body(payload: &[u8]) -> &[u8] {
    match payload.iter().position(|&b| b == b'\n') {
        Some(i) if payload.starts_with(b"{\"signer\"") => &payload[i + 1..],
        _ => payload,
    }
}

/// A request to `url` signed by `signer` (its method, path and query).
pub fn signed(
    http: &reqwest::Client,
    signer: &rong_identity::Signer,
    method: reqwest::Method,
    url: &str,
) -> reqwest::RequestBuilder {
    let parsed = reqwest::Url::parse(url).unwrap();
    let pq = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let auth = signer.authorization(method.as_str(), &pq);
    http.request(method, url).header("authorization", auth)
}

/// Makes an administrator's API token in `store` and answers it.
pub fn admin_token(store: &mut central_store::Store) -> String {
    let token = format!("rong_{}", central_web::random_token());
    let hash = central_web::token_hash(&token);
    let new = central_store::tokens::NewToken {
        label: "tests",
        token_hash: &hash,
        role: central_store::admin::Role::Admin,
        branch: None,
        expires_at: None,
    };
    store.create_token(&new, 1).unwrap();
    token
}

/// An HTTP client. The workspace's reqwest carries rustls with no crypto provider of its
/// own (the `ring` one is installed here, as the programs do).
pub fn http() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// A builder for [`http`]'s kind of client.
pub fn client_builder() -> reqwest::ClientBuilder {
    rong_identity::tls::install_provider();
    reqwest::Client::builder()
}

/// An HTTP client that sends `token` as its bearer credentials with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    client_builder().default_headers(headers).build().unwrap()
}

/// The value of cookie `name` that a response sets, if it sets one.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (k, val) = v.split(';').next()?.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
}

/// A form body of `fields`, URL-encoded.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", central_web::html::url_enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the hidden `csrf` field in a dashboard page.
pub fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

/// The one number `sql` selects from the database at `db`.
pub fn count(db: &Path, sql: &str) -> i64 {
    let s = central_store::Store::open(db).unwrap();
    let n = s.reader().query_row(sql, [], |r| r.get(0)).unwrap();
    n
}

/// A dashboard client that sends a session cookie and follows no redirect.
pub struct Dashboard {
    /// The client.
    pub http: reqwest::Client,
    /// Central.
    pub run: Running,
}

impl Dashboard {
    /// A client for `run`.
    pub fn new(run: Running) -> Dashboard {
        Dashboard {
            http: client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            run,
        }
    }

    /// `GET path` in session `session`.
    pub async fn get(&self, path: &str, session: &str) -> reqwest::Response {
        self.http
            .get(self.run.url(path))
            .header("cookie", format!("rong_session={session}"))
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a form of `fields` in session `session`.
    pub async fn post(
        &self,
        path: &str,
        session: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.run.url(path))
            .header("cookie", format!("rong_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields))
            .send()
            .await
            .unwrap()
    }
}

/// A dashboard user of `role` with a live session, made in the database: (cookie, CSRF).
pub fn staff_session(
    db: &Path,
    name: &str,
    role: central_store::admin::Role,
    branch: Option<&str>,
) -> (String, String) {
    let mut s = central_store::Store::open(db).unwrap();
    s.create_user(name, "$argon2id$x", role, branch, 1).unwrap();
    let (cookie, csrf) = (central_web::random_token(), central_web::random_token());
    let now = chrono::Utc::now().timestamp_millis();
    s.create_session(
        &central_web::token_hash(&cookie),
        name,
        &csrf,
        now,
        now + 3_600_000,
    )
    .unwrap();
    (cookie, csrf)
}
