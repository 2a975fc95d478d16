//! A seeded central, optionally behind Mosquitto, with agents attached: the set-up most
//! end-to-end tests share.

use std::time::Duration;

use tempfile::TempDir;

use crate::central::{Broker, Central};
use crate::{wait_until, Agent, Mosquitto};

/// Which broker a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Central's embedded rumqttd.
    Embedded,
    /// A separate Mosquitto.
    Mosquitto,
}

/// Items and patrons every scenario seeds.
pub const ITEMS: usize = 600;
/// See [`ITEMS`].
pub const PATRONS: usize = 300;

/// A running network: central, maybe Mosquitto, and a temp dir holding everything.
pub struct Scenario {
    /// Central.
    pub central: Central,
    /// Mosquitto, when the scenario uses it.
    pub mosquitto: Option<Mosquitto>,
    mosquitto_port: Option<u16>,
    /// Keeps the files until the scenario drops.
    pub tmp: TempDir,
}

impl Scenario {
    /// Seeds and starts central on `broker`; `extra_toml` goes into central's config.
    pub fn start(broker: BrokerKind, extra_toml: &str) -> Scenario {
        let tmp = tempfile::Builder::new()
            .prefix("rong-e2e-")
            .tempdir()
            .expect("tempdir");
        let (mosquitto, choice) = match broker {
            BrokerKind::Embedded => (None, None),
            BrokerKind::Mosquitto => {
                let m = Mosquitto::start(tmp.path());
                let url = m.url();
                (Some(m), Some(Broker::External(url)))
            }
        };
        let mosquitto_port = mosquitto.as_ref().map(|m| m.addr.port());
        let mut central = Central::prepare(tmp.path(), choice, extra_toml);
        central.seed(ITEMS, PATRONS);
        central.start();
        Scenario {
            central,
            mosquitto,
            mosquitto_port,
            tmp,
        }
    }

    /// Prepares and starts an agent, and waits until it holds the catalogue and is online.
    pub fn agent(&self, device: &str, branch: &str) -> Agent {
        let mut a = self.prepare_agent(device, branch, "");
        a.start();
        wait_synced(&a);
        a
    }

    /// Prepares an agent without starting it.
    pub fn prepare_agent(&self, device: &str, branch: &str, extra_toml: &str) -> Agent {
        let http = self.central.http.to_string();
        self.prepare_agent_via(device, branch, &http, extra_toml)
    }

    /// Like [`Scenario::prepare_agent`], reaching central's HTTP side at `central_http`
    /// (such as a [`crate::proxy::Proxy`] in front of it); MQTT goes to central's broker.
    pub fn prepare_agent_via(
        &self,
        device: &str,
        branch: &str,
        central_http: &str,
        extra_toml: &str,
    ) -> Agent {
        Agent::prepare_enrolled(
            self.tmp.path(),
            &self.central,
            device,
            branch,
            central_http,
            extra_toml,
        )
    }

    /// Takes the whole uplink down: central, and Mosquitto if there is one.
    pub fn link_down(&mut self) {
        self.central.stop();
        self.mosquitto = None;
    }

    /// Brings Mosquitto (on its old port) and central back.
    pub fn link_up(&mut self) {
        if let (None, Some(port)) = (&self.mosquitto, self.mosquitto_port) {
            self.mosquitto = Some(Mosquitto::start_on(self.tmp.path(), port));
        }
        self.central.start();
    }
}

/// Waits until an agent is online and holds a catalogue.
pub fn wait_synced(a: &Agent) {
    wait_until(
        &format!("{} to load the catalogue and go online", a.device),
        Duration::from_secs(60),
        || {
            let s = a.status();
            s["online"] == true && s["catalogue_version"].as_u64().unwrap_or(0) > 0
        },
    );
}

/// Waits until an agent's outbox is empty.
pub fn wait_drained(a: &Agent, timeout: Duration) {
    wait_until(&format!("{}'s outbox to drain", a.device), timeout, || {
        a.status()["outbox_depth"].as_u64() == Some(0)
    });
}
