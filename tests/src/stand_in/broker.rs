//! An MQTT broker inside the test process (rumqttd, as central embeds), on a free port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::{accepts, free_port, wait_until};

/// A running broker. rumqttd cannot be stopped; it lives as long as the test process.
#[derive(Debug, Clone)]
pub struct Broker {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Broker {
    /// Starts a broker on a thread of its own and returns once it accepts connections.
    pub fn start() -> Broker {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let server = rumqttd::ServerSettings {
            name: "v4".into(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 1,
            connections: rumqttd::ConnectionSettings {
                connection_timeout_ms: 60_000,
                max_payload_size: 4 * 1024 * 1024,
                max_inflight_count: 100,
                auth: None,
                external_auth: None,
                dynamic_filters: true,
            },
        };
        let config = rumqttd::Config {
            id: 0,
            router: rumqttd::RouterConfig {
                max_connections: 100,
                max_outgoing_packet_count: 200,
                max_segment_size: 100 * 1024 * 1024,
                max_segment_count: 10,
                ..Default::default()
            },
            v4: Some(HashMap::from([("v4".to_string(), server)])),
            ..Default::default()
        };
        std::thread::spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            let _ = broker.start();
        });
        wait_until("the broker", Duration::from_secs(15), || accepts(addr));
        Broker { addr }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The URL for configs.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}
