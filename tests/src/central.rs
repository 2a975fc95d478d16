//! Runs `central`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{bin, run_ok, Daemon};
use crate::{free_port, http};

/// Which broker central uses.
#[derive(Debug, Clone)]
pub enum Broker {
    /// Central's embedded broker, on this port.
    Embedded(u16),
    /// An external broker at this URL, such as `mqtt://127.0.0.1:1883`.
    External(String),
}

/// A running (or stopped) central with fixed ports, so it can be restarted in place.
#[derive(Debug)]
pub struct Central {
    /// The HTTP address.
    pub http: SocketAddr,
    /// The broker URL devices use.
    pub mqtt_url: String,
    daemon: Daemon,
    /// The administrator's API token the helpers below send, made at the first start.
    token: Option<String>,
}

impl Central {
    /// Writes a config under `dir` (embedded broker unless `broker` says otherwise), seeds
    /// the database with `items` and `patrons`, and does not start it yet.
    pub fn prepare(dir: &Path, broker: Option<Broker>, extra_toml: &str) -> Central {
        let dir = dir.join("central");
        std::fs::create_dir_all(&dir).expect("mkdir central");
        let http_port = free_port();
        let broker = broker.unwrap_or(Broker::Embedded(free_port()));
        let (broker_toml, mqtt_url) = match &broker {
            Broker::Embedded(p) => (
                format!("[broker]\nlisten = \"127.0.0.1:{p}\"\n"),
                format!("mqtt://127.0.0.1:{p}"),
            ),
            Broker::External(url) => (format!("[broker]\nexternal_url = \"{url}\"\n"), url.clone()),
        };
        let config = dir.join("central.toml");
        let toml = format!(
            "data_dir = \"{}\"\n{extra_toml}\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n{broker_toml}",
            dir.join("data").display()
        );
        std::fs::write(&config, toml).expect("write central config");
        Central {
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            mqtt_url,
            daemon: Daemon::new("central", "serve", "central", dir, config),
            token: None,
        }
    }

    /// Runs central inside network namespace `name` from its next start (see
    /// [`crate::netns::Netns`]); its addresses are then the namespace's.
    pub fn set_netns(&mut self, name: &str) {
        self.daemon.set_netns(name);
    }

    /// Sets the environment variable `key` (a `RONG_*` setting) from its next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.daemon.set_env(key, value);
    }

    /// Logs through `filter` (a `RUST_LOG` value, such as `debug`) from its next start.
    pub fn set_log_filter(&mut self, filter: &str) {
        self.daemon.set_env("RUST_LOG", filter);
    }

    /// Runs `central seed`.
    pub fn seed(&self, items: usize, patrons: usize) {
        run_ok(
            Command::new(bin("central"))
                .args(["seed", "--config"])
                .arg(&self.daemon.config)
                .args([
                    "--items",
                    &items.to_string(),
                    "--patrons",
                    &patrons.to_string(),
                    "--seed",
                    "1",
                ]),
            "central seed",
        );
    }

    /// Runs `central admin create` for a dashboard user (`branch` makes branch staff).
    pub fn admin_create(&self, name: &str, password: &str, branch: Option<&str>) {
        let role = if branch.is_some() { "staff" } else { "admin" };
        self.user_create(name, password, role, branch);
    }

    /// Runs `central admin create` for a dashboard user of any role.
    pub fn user_create(&self, name: &str, password: &str, role: &str, branch: Option<&str>) {
        let mut cmd = Command::new(bin("central"));
        cmd.args(["admin", "create", "--config"])
            .arg(&self.daemon.config)
            .args(["--name", name, "--role", role])
            .env("RONG_ADMIN_PASSWORD", password);
        if let Some(b) = branch {
            cmd.args(["--branch", b]);
        }
        run_ok(&mut cmd, "central admin create");
    }

    /// Runs `central device enrol` (the real command line) for `device` of `branch` and
    /// answers the one-time code it printed. The branch must exist (seed first).
    pub fn enrolment_code(&self, branch: &str, device: &str) -> String {
        let role = if device.contains("station") {
            "station"
        } else {
            "kiosk"
        };
        let out = run_ok(
            Command::new(bin("central"))
                .args(["device", "enrol", "--config"])
                .arg(&self.daemon.config)
                .args(["--branch", branch, "--role", role, "--device-id", device]),
            "central device enrol",
        );
        out.lines()
            .find_map(|l| l.strip_prefix("Code: "))
            .unwrap_or_else(|| panic!("no code in `central device enrol`'s output: {out}"))
            .trim()
            .to_owned()
    }

    /// Enrols `device` of `branch` the way a board does (a code from
    /// [`Central::enrolment_code`], spent at `POST /api/v1/device/enrol` with a new key);
    /// answers the key and central's answer.
    pub fn enrol_board(
        &self,
        branch: &str,
        device: &str,
    ) -> (rong_identity::KeyPair, rong_identity::EnrolResponse) {
        let code = self.enrolment_code(branch, device);
        let key = rong_identity::KeyPair::generate();
        let body = serde_json::json!({"code": code, "public_key": key.public().to_base64()});
        let r = self.request("POST", rong_identity::ENROL_PATH, Some(&body));
        assert_eq!(
            r.status,
            200,
            "enrol {device}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let answer: rong_identity::EnrolResponse =
            serde_json::from_slice(&r.body).expect("enrolment answer");
        assert_eq!(answer.device, device);
        (key, answer)
    }

    /// Like [`Central::enrol_board`], answering the board's signer, for tests that play a
    /// device.
    pub fn enrol_device(&self, branch: &str, device: &str) -> rong_identity::Signer {
        let (key, _) = self.enrol_board(branch, device);
        rong_identity::Signer::new(device, key)
    }

    /// Runs `central tls` (the real command line): central's CA and certificates, made now.
    /// Answers what it printed.
    pub fn tls_init(&self) -> String {
        run_ok(
            Command::new(bin("central"))
                .args(["tls", "--config"])
                .arg(&self.daemon.config),
            "central tls",
        )
    }

    /// Central's TLS directory, `{data_dir}/tls`.
    pub fn tls_dir(&self) -> PathBuf {
        self.daemon.dir.join("data").join("tls")
    }

    /// Central's CA certificate, PEM (made at its first start or by `central tls`).
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.tls_dir().join("ca.crt")).expect("central's CA")
    }

    /// Like [`Central::enrol_device`], also answering the board's TLS identity: the
    /// certificate central's CA made for its key, with that key.
    pub fn enrol_device_tls(
        &self,
        branch: &str,
        device: &str,
    ) -> (rong_identity::Signer, rong_identity::tls::ClientIdentity) {
        let (key, answer) = self.enrol_board(branch, device);
        let cert = answer.tls.expect("a certificate").certificate;
        let identity = rong_identity::tls::ClientIdentity::device(&cert, &key).expect("identity");
        (rong_identity::Signer::new(device, key), identity)
    }

    /// Runs `central token create` and answers the token (`branch` for staff and
    /// read-only tokens).
    pub fn token_create(&self, role: &str, branch: Option<&str>, label: &str) -> String {
        let mut cmd = Command::new(bin("central"));
        cmd.args(["token", "create", "--config"])
            .arg(&self.daemon.config)
            .args(["--role", role, "--label", label]);
        if let Some(b) = branch {
            cmd.args(["--branch", b]);
        }
        run_ok(&mut cmd, "central token create").trim().to_owned()
    }

    /// The administrator's API token the JSON helpers send (made at the first start).
    pub fn token(&self) -> &str {
        self.token.as_deref().expect("central was started")
    }

    /// Runs `central backup FILE`; returns its stdout.
    pub fn backup(&self, file: &Path) -> String {
        run_ok(
            Command::new(bin("central"))
                .args(["backup", "--config"])
                .arg(&self.daemon.config)
                .arg(file),
            "central backup",
        )
    }

    /// Runs `central restore FILE`; returns whether it succeeded, and its stdout and stderr.
    pub fn restore(&self, file: &Path) -> (bool, String) {
        let out = Command::new(bin("central"))
            .args(["restore", "--config"])
            .arg(&self.daemon.config)
            .arg(file)
            .output()
            .expect("run central restore");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Central's database file.
    pub fn db_path(&self) -> PathBuf {
        self.daemon.dir.join("data").join("central.db")
    }

    /// Starts `central serve` and waits for its ready line.
    pub fn start(&mut self) {
        if self.token.is_none() {
            self.token = Some(self.token_create("admin", None, "tests"));
        }
        let ready = self.daemon.start("central", Duration::from_secs(60));
        assert_eq!(
            ready["http"],
            self.http.to_string(),
            "central bound another port: {ready}"
        );
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Runs `central seed` with any counts, returning how long it took.
    pub fn seed_timed(&self, items: usize, patrons: usize) -> Duration {
        let t = std::time::Instant::now();
        self.seed(items, patrons);
        t.elapsed()
    }

    /// Kills central with SIGKILL.
    pub fn kill9(&mut self) {
        self.daemon.kill9();
    }

    /// Stops central with SIGTERM.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Central's directory: its config, and its data under `data/`.
    pub fn dir(&self) -> &Path {
        &self.daemon.dir
    }

    /// `body` for `topic` sealed with central's own key (read from its data directory,
    /// where central made it at its first start), for tests that send what only central
    /// may send.
    pub fn seal_as_central(&self, topic: &str, body: &[u8]) -> Vec<u8> {
        let key = rong_identity::KeyPair::load(&self.dir().join("data/central.key"))
            .expect("central's key (central has started once)");
        let now = chrono::Utc::now().timestamp_millis();
        key.seal(&rong_protocol::envelope::Signer::Central, topic, now, body)
    }

    /// GET a JSON path, with the administrator's API token.
    pub fn get(&self, path: &str) -> serde_json::Value {
        http::get_json_as(self.http, self.token.as_deref(), path)
    }

    /// Sends a request with the administrator's API token and returns the raw reply.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> http::Reply {
        http::request_as(self.http, self.token.as_deref(), method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A number from `/api/v1/stats`.
    pub fn stat(&self, key: &str) -> u64 {
        self.get("/api/v1/stats")[key]
            .as_u64()
            .unwrap_or_else(|| panic!("stats has no {key}"))
    }

    /// The events central holds from one device.
    pub fn events(&self, device: &str) -> Vec<serde_json::Value> {
        self.get(&format!("/api/v1/events?device={device}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Active loans, optionally for one patron.
    pub fn loans(&self, patron: Option<&str>) -> Vec<serde_json::Value> {
        let path = match patron {
            Some(p) => format!("/api/v1/loans?patron={p}"),
            None => "/api/v1/loans".to_owned(),
        };
        self.get(&path).as_array().cloned().unwrap_or_default()
    }
}
