//! An MQTT client for tests that play a device or watch the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rong_mqtt::{BrokerUrl, MaxPacket};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// The packet limits of the test kit's clients: central's, so any message central takes
/// can be sent or watched.
pub const MAX_PACKET: MaxPacket = MaxPacket::both(2 * 1024 * 1024);

/// Messages seen: (topic, payload).
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// What a [`Spy`] publishes back when a message arrives: (topic, payload) pairs.
pub type Answer = Box<dyn Fn(&str, &[u8]) -> Vec<(String, Vec<u8>)> + Send>;

/// A connected client that records every message it receives.
pub struct Spy {
    client: Client,
    seen: Seen,
    signer: Option<rong_identity::Signer>,
    connected: Arc<std::sync::atomic::AtomicBool>,
}

/// The message inside a signed envelope (its header line dropped, unchecked), or the
/// payload itself when it is not one.
pub fn body(payload: &[u8]) -> &[u8] {
    match payload.iter().position(|&b| b == b'\n') {
        Some(i) if payload.starts_with(b"{\"signer\"") => &payload[i + 1..],
        _ => payload,
    }
}

impl Spy {
    /// Connects to `url` (`mqtt://host:port`) as `id`, subscribing to `filters`, and waits
    /// until the broker has confirmed every subscription.
    pub fn connect(url: &str, id: &str, filters: &[String]) -> Spy {
        Self::answering(url, id, filters, Box::new(|_, _| Vec::new()))
    }

    /// Like [`Spy::connect`], logging in as `id` with `password`.
    pub fn connect_with_password(url: &str, id: &str, password: &str, filters: &[String]) -> Spy {
        Self::connect_as(url, id, id, password, filters)
    }

    /// Like [`Spy::connect`] with client id `id`, logging in as `user` with `password`.
    pub fn connect_as(url: &str, id: &str, user: &str, password: &str, filters: &[String]) -> Spy {
        let mut opts = options(url, id);
        opts.set_credentials(user, password);
        Self::start(opts, filters, Box::new(|_, _| Vec::new()))
    }

    /// Like [`Spy::connect`], and publishes (QoS 1) what `answer` makes of each message
    /// received, as a peer that replies would.
    pub fn answering(url: &str, id: &str, filters: &[String], answer: Answer) -> Spy {
        Self::start(options(url, id), filters, answer)
    }

    /// Like [`Spy::connect`] with options made by the caller (such as [`tls_options`]).
    pub fn with_options(opts: MqttOptions, filters: &[String]) -> Spy {
        Self::start(opts, filters, Box::new(|_, _| Vec::new()))
    }

    fn start(opts: MqttOptions, filters: &[String], answer: Answer) -> Spy {
        let (client, mut conn) = Client::new(opts, 64);
        for f in filters {
            client
                .subscribe(f.clone(), QoS::AtLeastOnce)
                .expect("subscribe");
        }
        let seen: Seen = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let want = filters.len();
        let (sink, replier) = (seen.clone(), client.clone());
        let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let up = connected.clone();
        std::thread::spawn(move || {
            let mut acks = 0;
            for ev in conn.iter() {
                let now_up = match &ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => Some(true),
                    Err(_) => Some(false),
                    _ => None,
                };
                if let Some(u) = now_up {
                    up.store(u, std::sync::atomic::Ordering::SeqCst);
                }
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acks += 1;
                        if acks == want {
                            let _ = ready_tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Ok(mut s) = sink.lock() {
                            s.push((p.topic.clone(), p.payload.to_vec()));
                        }
                        for (topic, payload) in answer(&p.topic, &p.payload) {
                            let _ = replier.try_publish(topic, QoS::AtLeastOnce, false, payload);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        // With no subscriptions there is nothing to confirm; publishes queue until connected.
        if want > 0 {
            ready_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("broker confirmed the subscriptions");
        }
        Spy {
            client,
            seen,
            signer: None,
            connected,
        }
    }

    /// Whether its connection is up (a CONNACK since the last error).
    pub fn connected(&self) -> bool {
        self.connected.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Seals what it publishes with `signer` (an enrolled device's, from
    /// `Central::enrol_device`), as that device would.
    pub fn signed_by(mut self, signer: rong_identity::Signer) -> Spy {
        self.signer = Some(signer);
        self
    }

    /// Publishes with QoS 1, sealed when the spy has a signer.
    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        let payload = payload.into();
        let payload = match &self.signer {
            Some(s) => s.seal(topic, &payload),
            None => payload,
        };
        self.publish_raw(topic, payload);
    }

    /// Publishes the bytes as they are, with QoS 1.
    pub fn publish_raw(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .expect("publish");
    }

    /// The messages received so far on topics ending with `suffix`, out of their
    /// envelopes.
    pub fn received(&self, suffix: &str) -> Vec<Vec<u8>> {
        self.received_raw(suffix)
            .iter()
            .map(|p| body(p).to_vec())
            .collect()
    }

    /// The payloads received so far on topics ending with `suffix`, as they came.
    pub fn received_raw(&self, suffix: &str) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .map(|s| {
                s.iter()
                    .filter(|(t, _)| t.ends_with(suffix))
                    .map(|(_, p)| p.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The test kit's connection options for a client `id` of the broker at `url`.
pub fn options(url: &str, id: &str) -> MqttOptions {
    let broker = BrokerUrl::parse(url).expect("broker URL");
    rong_mqtt::options(&broker, id, Duration::from_secs(10), None, MAX_PACKET)
}

/// Options for client `id` of the broker at `url` (`mqtts://`), trusting `ca_pem` only and
/// presenting `identity`'s certificate, if given.
pub fn tls_options(
    url: &str,
    id: &str,
    ca_pem: &str,
    identity: Option<rong_identity::tls::ClientIdentity>,
) -> MqttOptions {
    let mut opts = options(url, id);
    let tls = rong_identity::tls::client_config(ca_pem, identity).expect("TLS client config");
    rong_mqtt::use_tls(&mut opts, Arc::new(tls));
    opts
}

/// Whether the broker lets a client with `opts` in (a successful CONNACK); a refused
/// handshake, a refused login or a dropped connection is no.
pub fn accepted(opts: MqttOptions) -> bool {
    let (_client, mut conn) = Client::new(opts, 8);
    for ev in conn.iter().take(5) {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(a))) => {
                return a.code == rumqttc::ConnectReturnCode::Success
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// A client that only publishes, as many devices at once do: `inflight` messages may await
/// their acknowledgement. Its connection runs on a thread of its own.
pub fn publisher(url: &str, id: &str, inflight: u16) -> Client {
    let mut opts = options(url, id);
    opts.set_inflight(inflight);
    let (client, mut conn) = Client::new(opts, usize::from(inflight) * 2);
    std::thread::spawn(move || {
        for ev in conn.iter() {
            if ev.is_err() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    client
}
