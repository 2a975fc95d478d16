//! The embedded MQTT broker (rumqttd), for installations with nothing else to set up.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// The largest MQTT payload the embedded broker passes on. Bigger than the protocol's
/// limit on purpose: oversized messages must reach central to be refused and counted.
pub const BROKER_MAX_PAYLOAD: usize = 1024 * 1024;

/// Why the broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Could not find or bind the port.
    #[error("cannot bind the broker's port {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The broker thread could not be spawned.
    #[error("cannot start the broker thread: {0}")]
    Thread(std::io::Error),
    /// It never accepted a connection.
    #[error("the embedded broker did not answer on {0} in time")]
    Timeout(SocketAddr),
}

fn config(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: BROKER_MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "rong-v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 8 * BROKER_MAX_PAYLOAD,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    }
}

/// Resolves port 0 to a free port: rumqttd cannot report the port it bound.
/// For a fixed port, checks that it is free, so central does not mistake another
/// process's broker for its own.
fn pick(addr: SocketAddr) -> Result<SocketAddr, BrokerError> {
    let l = TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
    let picked = l
        .local_addr()
        .map_err(|source| BrokerError::Bind { addr, source })?;
    drop(l);
    Ok(picked)
}

/// Starts rumqttd on its own thread and waits until it accepts TCP connections.
///
/// rumqttd has no shutdown call: the broker lives until the process exits.
pub async fn start(listen: SocketAddr) -> Result<SocketAddr, BrokerError> {
    let addr = pick(listen)?;
    let cfg = config(addr);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let mut broker = Broker::new(cfg);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })
        .map_err(BrokerError::Thread)?;
    wait_for(addr, Duration::from_secs(15))
        .await
        .then_some(addr)
        .ok_or(BrokerError::Timeout(addr))
}

/// Polls a TCP connect until it succeeds or `timeout` passes.
pub async fn wait_for(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
