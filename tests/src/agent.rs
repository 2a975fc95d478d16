//! Runs `edge-agent` and talks to its local API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rong_agent_client::{code_name, Client, Error};
use rong_protocol::api::{Outcome, Reply, RequestOp, Response, Who};

use crate::proc::{bin, Daemon};

/// A running (or stopped) edge-agent.
#[derive(Debug)]
pub struct Agent {
    /// Device id.
    pub device: String,
    /// Branch id.
    pub branch: String,
    /// The local API socket.
    pub socket: PathBuf,
    daemon: Daemon,
}

impl Agent {
    /// Like [`Agent::prepare`] for a board enrolled with `central`: the config carries a
    /// one-time code from `central device enrol`, which the agent spends at its first start.
    pub fn prepare_enrolled(
        dir: &Path,
        central: &crate::central::Central,
        device: &str,
        branch: &str,
        central_http: &str,
        extra_toml: &str,
    ) -> Agent {
        let code = central.enrolment_code(branch, device);
        Agent::write(
            dir,
            device,
            branch,
            &format!("enrolment_code = \"{code}\"\n"),
            &central.mqtt_url,
            central_http,
            extra_toml,
        )
    }

    /// Writes a config for `device` of `branch`, talking to the broker at `mqtt_url` and to
    /// central's HTTP at `central_http`. `extra_toml` is appended (e.g. a `[sync]` table).
    /// It is not enrolled: see [`Agent::prepare_enrolled`].
    pub fn prepare(
        dir: &Path,
        device: &str,
        branch: &str,
        mqtt_url: &str,
        central_http: &str,
        extra_toml: &str,
    ) -> Agent {
        Agent::write(dir, device, branch, "", mqtt_url, central_http, extra_toml)
    }

    fn write(
        dir: &Path,
        device: &str,
        branch: &str,
        top_toml: &str,
        mqtt_url: &str,
        central_http: &str,
        extra_toml: &str,
    ) -> Agent {
        let dir = dir.join(device);
        std::fs::create_dir_all(&dir).expect("mkdir agent");
        let socket = dir.join("agent.sock");
        let config = dir.join("agent.toml");
        let toml = format!(
            "device = \"{device}\"\nbranch = \"{branch}\"\n{top_toml}data_dir = \"{}\"\nsocket = \"{}\"\n\n[mqtt]\nurl = \"{mqtt_url}\"\n\n[central]\nurl = \"http://{central_http}\"\n\n[hardware]\nbarcode = \"sim\"\ncard = \"sim\"\n\n[clock]\nsynced = true\n{extra_toml}\n",
            dir.join("data").display(),
            socket.display()
        );
        std::fs::write(&config, toml).expect("write agent config");
        Agent {
            device: device.to_owned(),
            branch: branch.to_owned(),
            socket,
            daemon: Daemon::new("edge-agent", "run", "agent", dir, config),
        }
    }

    /// Runs the agent inside network namespace `name` from its next start (see
    /// [`crate::netns::Netns`]); its local API socket is a file, reachable from outside.
    pub fn set_netns(&mut self, name: &str) {
        self.daemon.set_netns(name);
    }

    /// Logs through `filter` (a `RUST_LOG` value, such as `debug`) from its next start.
    pub fn set_log_filter(&mut self, filter: &str) {
        self.daemon.set_env("RUST_LOG", filter);
    }

    /// Starts `edge-agent run` and waits for its ready line.
    pub fn start(&mut self) {
        self.daemon.start(&self.device, Duration::from_secs(30));
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Kills the agent with SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        self.daemon.kill9();
    }

    /// Stops the agent with SIGTERM.
    pub fn stop(&mut self) -> bool {
        self.daemon.stop()
    }

    /// Makes the agent speak TLS to central from its next start: `https://` and
    /// `mqtts://`, trusting central's CA from `ca_file` until enrolment pins it.
    pub fn use_tls(&self, ca_file: &Path) {
        let text = std::fs::read_to_string(&self.daemon.config).expect("read agent config");
        let mut out = String::new();
        for line in text.lines() {
            let line = line
                .replace("url = \"http://", "url = \"https://")
                .replace("url = \"mqtt://", "url = \"mqtts://");
            out.push_str(&line);
            out.push('\n');
            if line == "[central]" {
                out.push_str(&format!("ca_file = \"{}\"\n", ca_file.display()));
            }
        }
        std::fs::write(&self.daemon.config, out).expect("write agent config");
    }

    /// Points the agent at another broker from its next start (a dead port takes it offline).
    pub fn set_mqtt_url(&self, url: &str) {
        let text = std::fs::read_to_string(&self.daemon.config).expect("read agent config");
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("url = \"mqtt://") {
                out.push_str(&format!("url = \"{url}\""));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        std::fs::write(&self.daemon.config, out).expect("write agent config");
    }

    /// Restarts the agent offline: its broker URL points at a port where nothing listens.
    pub fn restart_offline(&mut self) -> String {
        let old = std::fs::read_to_string(&self.daemon.config)
            .expect("read agent config")
            .lines()
            .find_map(|l| {
                l.strip_prefix("url = \"mqtt://")
                    .map(|u| format!("mqtt://{}", u.trim_end_matches('"')))
            })
            .expect("mqtt url in config");
        self.stop();
        self.set_mqtt_url(&format!("mqtt://127.0.0.1:{}", crate::free_port()));
        self.start();
        old
    }

    /// A new connection to the local API.
    pub fn client(&self) -> ApiClient {
        ApiClient::connect(&self.socket)
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.socket.display()))
    }

    /// The agent's `status`, as JSON.
    pub fn status(&self) -> serde_json::Value {
        self.client().status()
    }

    /// The agent's `status`, or `None` while its local API is not answering (as while a
    /// board that has just enrolled starts again under its new identity).
    pub fn try_status(&self) -> Option<serde_json::Value> {
        let mut c = ApiClient::connect(&self.socket).ok()?;
        let r = c.try_call(RequestOp::Status).ok()?;
        Some(serde_json::to_value(r.outcome).ok()?["result"].clone())
    }

    /// Runs `edge-agent ctl` with `args` against this agent; returns (exit code, stdout).
    pub fn ctl(&self, args: &[&str]) -> (i32, String) {
        self.ctl_stdin(args, "")
    }

    /// [`Agent::ctl`] with `stdin` as its standard input (a PIN for `--pin-stdin`).
    pub fn ctl_stdin(&self, args: &[&str], stdin: &str) -> (i32, String) {
        use std::io::Write;
        let mut child = Command::new(bin("edge-agent"))
            .arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run ctl");
        if let Some(mut input) = child.stdin.take() {
            // A ctl that does not read its stdin closes it: that is not the test's error.
            let _ = input.write_all(stdin.as_bytes());
        }
        let out = child.wait_with_output().expect("run ctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Where the agent keeps its files.
    pub fn dir(&self) -> &Path {
        &self.daemon.dir
    }
}

/// A connection to an agent's local API, with the tests' conveniences on top of
/// [`rong_agent_client::Client`].
#[derive(Debug)]
pub struct ApiClient(Client);

impl ApiClient {
    /// Connects; each answer may take up to 30 s.
    pub fn connect(path: &Path) -> Result<ApiClient, Error> {
        Client::connect(path, Some(Duration::from_secs(30))).map(ApiClient)
    }

    /// Sends a raw line and returns the next non-push line as JSON.
    pub fn raw(&mut self, line: &str) -> Result<serde_json::Value, Error> {
        let back = self.0.raw(line)?;
        serde_json::from_str(&back).map_err(|source| Error::Decode { line: back, source })
    }

    /// Sends a request written as JSON and returns the next non-push line as JSON.
    pub fn json(&mut self, request: serde_json::Value) -> serde_json::Value {
        self.raw(&request.to_string())
            .unwrap_or_else(|e| panic!("no answer from the agent: {e}"))
    }

    /// The agent's `status` (its `result`), as JSON.
    pub fn status(&mut self) -> serde_json::Value {
        let r = self.call(RequestOp::Status);
        serde_json::to_value(r.outcome).expect("json")["result"].clone()
    }

    /// Sends bytes as they are: a line, several, or something that is not one.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.0.send_raw(bytes).expect("send to the agent");
    }

    /// The next line the agent sends (an answer or a push) as JSON, or `None` once it has
    /// closed the connection.
    pub fn read_line(&mut self) -> Option<serde_json::Value> {
        match self.0.read_line() {
            Ok(line) => Some(serde_json::from_str(&line).expect("a JSON line")),
            Err(Error::Closed { .. }) => None,
            Err(e) => panic!("no line from the agent: {e}"),
        }
    }

    /// Sends a request and returns its response.
    pub fn try_call(&mut self, op: RequestOp) -> Result<Response, Error> {
        self.0.request(op).map(|a| a.response)
    }

    /// Like [`ApiClient::try_call`], panicking when the agent cannot be talked to.
    pub fn call(&mut self, op: RequestOp) -> Response {
        self.try_call(op).expect("local API call")
    }

    /// Checks out `item` to `card` and returns the reply or the error code.
    pub fn checkout(&mut self, card: &str, item: &str) -> Result<Reply, String> {
        outcome(self.call(RequestOp::Checkout {
            who: card_who(card),
            item: item.into(),
        }))
    }

    /// Checks `item` in.
    pub fn checkin(&mut self, item: &str) -> Result<Reply, String> {
        outcome(self.call(RequestOp::Checkin { item: item.into() }))
    }

    /// Renews `item` for `card`.
    pub fn renew(&mut self, card: &str, item: &str) -> Result<Reply, String> {
        outcome(self.call(RequestOp::Renew {
            who: card_who(card),
            item: item.into(),
        }))
    }
}

/// Inline credentials for a card with no PIN.
pub fn card_who(card: &str) -> Who {
    Who {
        card: Some(card.into()),
        ..Who::default()
    }
}

/// The reply, or the error code as text (such as `loan_limit`).
pub fn outcome(r: Response) -> Result<Reply, String> {
    match r.outcome {
        Outcome::Ok { result, .. } => Ok(result),
        Outcome::Err { error, .. } => Err(code_name(error.code)),
    }
}
