//! The embedded broker's TLS front door.
//!
//! rumqttd's own TLS listener does each handshake in its accept loop with no time limit
//! (one silent client stalls every other), and it cannot tie a certificate to an MQTT
//! client id. So with `tls.enabled` the embedded broker listens in clear on a loopback
//! port only, and this front door listens on `broker.listen`. For each connection it:
//!
//! 1. completes the TLS handshake (side by side with others, 10 s at most), asking for a
//!    certificate from central's CA;
//! 2. reads the MQTT CONNECT packet and refuses it unless its client id is the device id
//!    the certificate names;
//! 3. refuses it unless that device is enrolled, not revoked, and enrolled with the very
//!    key the certificate carries (a board enrolled again with a new key leaves its old
//!    certificate useless: no revocation list is needed);
//! 4. then relays to the broker, reading each packet the board sends: a PUBLISH only to
//!    its own uplink topics, a SUBSCRIBE only to its own downlinks and its branch's deltas
//!    (no wildcard; [`crate::broker_acl::DeviceTopics`], the same list as Mosquitto's ACL),
//!    or the board is cut off. It checks the device again every few seconds: a board
//!    revoked while connected is cut off too.
//!
//! Central's own MQTT client connects to the loopback port directly, so no certificate
//! can take the client id `central` from outside.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use central_store::identity::device_credentials;
use central_store::Reads;
use rong_protocol::DeviceId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A handshake, or the CONNECT packet after it, that takes longer is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many connections between accept and relaying; more wait in the backlog.
const MAX_PENDING: usize = 256;
/// A CONNECT packet larger than this is refused (a board's is well under 1 KiB).
const MAX_CONNECT: usize = 16 * 1024;
/// How often a connected board's enrolment is checked again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// The largest packet a board may send (the broker's own limit, and its headers).
const MAX_PACKET: usize = crate::broker::BROKER_MAX_PAYLOAD + 64 * 1024;

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The first packet was not an MQTT CONNECT, or a malformed one.
    #[error("not an MQTT CONNECT packet: {0}")]
    NotConnect(&'static str),
    /// The certificate does not name a device.
    #[error("the certificate names no device")]
    NoDevice,
    /// The client id is not the certificate's device.
    #[error("client id {client:?} is not the certificate's device {device}")]
    WrongClientId {
        /// The CONNECT's client id.
        client: String,
        /// The certificate's device.
        device: String,
    },
    /// Unknown, revoked, or enrolled with another key.
    #[error("device {0} is not enrolled with this certificate's key, or is revoked")]
    NotEnrolled(String),
    /// A packet too large, cut short or malformed.
    #[error("bad packet: {0}")]
    BadPacket(&'static str),
    /// A publish to a topic the board does not own.
    #[error("publish to {0:?}, which is not this board's")]
    Publish(String),
    /// A subscription to a filter the board may not read.
    #[error("subscription to {0:?}, which this board may not read")]
    Subscribe(String),
}

/// Starts the front door on `listen`, relaying to the broker at `backend`. Returns the
/// bound address.
pub async fn start(
    listen: SocketAddr,
    config: rustls::ServerConfig,
    backend: SocketAddr,
    reads: Reads,
) -> std::io::Result<SocketAddr> {
    let tcp = TcpListener::bind(listen).await?;
    let addr = tcp.local_addr()?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(accept_loop(tcp, acceptor, backend, reads));
    Ok(addr)
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr, reads: Reads) {
    let mut pending = JoinSet::new();
    loop {
        tokio::select! {
            r = tcp.accept(), if pending.len() < MAX_PENDING => match r {
                Ok((stream, peer)) => {
                    let acceptor = acceptor.clone();
                    let reads = reads.clone();
                    pending.spawn(async move {
                        if let Err(e) = serve(stream, peer, acceptor, backend, reads).await {
                            tracing::warn!(%peer, error = %e, "MQTT connection refused");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an MQTT connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
        }
    }
}

/// One connection, from handshake to hang-up. Relaying is handed to its own task, so
/// `MAX_PENDING` bounds only connections not yet checked.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    backend: SocketAddr,
    reads: Reads,
) -> anyhow::Result<()> {
    let (tls, connect, device, key, branch) = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut tls = acceptor.accept(stream).await?;
        let (device, key) = {
            let (_, session) = tls.get_ref();
            let cert = session
                .peer_certificates()
                .and_then(|c| c.first())
                .ok_or(Refused::NoDevice)?;
            certified_device(cert.as_ref())?
        };
        let connect = read_connect(&mut tls).await?;
        let client = client_id(&connect)?;
        if client != device.as_str() {
            return Err(Refused::WrongClientId {
                client,
                device: device.to_string(),
            }
            .into());
        }
        let Some(branch) = enrolled_with(&reads, &device, key).await else {
            return Err(Refused::NotEnrolled(device.to_string()).into());
        };
        anyhow::Ok((tls, connect, device, key, branch))
    })
    .await
    .map_err(|_| anyhow::anyhow!("no TLS handshake and CONNECT within {HANDSHAKE_TIMEOUT:?}"))??;
    tracing::info!(%peer, %device, "board connected to the broker over TLS");
    let mut broker = TcpStream::connect(backend).await?;
    broker.set_nodelay(true)?;
    broker.write_all(&connect).await?;
    let allowed = crate::broker_acl::DeviceTopics::of(&branch, &device);
    tokio::spawn(async move {
        let (mut from_board, mut to_board) = tokio::io::split(tls);
        let (mut from_broker, mut to_broker) = broker.into_split();
        let up = async {
            loop {
                let packet = read_packet(&mut from_board, MAX_PACKET).await?;
                check_packet(&packet, &allowed)?;
                to_broker.write_all(&packet).await?;
            }
        };
        let down = tokio::io::copy(&mut from_broker, &mut to_board);
        let still_enrolled = async {
            let mut check = tokio::time::interval(RECHECK);
            check.tick().await;
            loop {
                check.tick().await;
                if enrolled_with(&reads, &device, key).await.is_none() {
                    return;
                }
            }
        };
        tokio::select! {
            r = up => {
                let r: anyhow::Result<()> = r;
                if let Err(e) = r {
                    match e.downcast_ref::<Refused>() {
                        Some(refused) => tracing::warn!(%peer, %device, error = %refused, "board cut off"),
                        None => tracing::debug!(%peer, %device, error = %e, "board gone"),
                    }
                }
            }
            _ = down => {}
            _ = still_enrolled => {
                tracing::warn!(%peer, %device, "board revoked while connected: cut off");
            }
        }
    });
    Ok(())
}

/// Refuses a PUBLISH to a topic not in `allowed.write` and a SUBSCRIBE to a filter not in
/// `allowed.read`; every other packet passes.
fn check_packet(packet: &[u8], allowed: &crate::broker_acl::DeviceTopics) -> Result<(), Refused> {
    let mut at = 1;
    while packet.get(at).ok_or(Refused::BadPacket("cut short"))? & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    let string_at = |at: usize| -> Result<(String, usize), Refused> {
        let len = packet
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or(Refused::BadPacket("cut short"))?;
        let text = packet
            .get(at + 2..at + 2 + len)
            .ok_or(Refused::BadPacket("cut short"))?;
        let text = String::from_utf8(text.to_vec()).map_err(|_| Refused::BadPacket("not UTF-8"))?;
        Ok((text, at + 2 + len))
    };
    match packet[0] >> 4 {
        3 => {
            let (topic, _) = string_at(at)?;
            if !allowed.write.contains(&topic) {
                return Err(Refused::Publish(topic));
            }
        }
        8 => {
            // The packet id, then filters, each with its options byte.
            at += 2;
            if at >= packet.len() {
                return Err(Refused::BadPacket("a subscription with no filter"));
            }
            while at < packet.len() {
                let (filter, next) = string_at(at)?;
                if !allowed.read.contains(&filter) {
                    return Err(Refused::Subscribe(filter));
                }
                at = next + 1;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `device`'s branch, if it is enrolled with `key` and not revoked. A database error counts
/// as no: the board reconnects later.
async fn enrolled_with(
    reads: &Reads,
    device: &DeviceId,
    key: [u8; 32],
) -> Option<rong_protocol::BranchId> {
    let id = device.to_string();
    match reads.run(move |c| device_credentials(c, &id)).await {
        Ok(Some(creds)) => {
            let same_key = creds
                .public_key
                .as_deref()
                .and_then(|k| rong_identity::PublicKey::from_base64(k).ok())
                .is_some_and(|k| *k.as_bytes() == key);
            (!creds.revoked && same_key).then_some(creds.branch)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(%device, error = %e, "cannot check a device's enrolment");
            None
        }
    }
}

/// The device a (verified) certificate names, from its common name, and the Ed25519 key
/// it certifies.
pub fn certified_device(der: &[u8]) -> Result<(DeviceId, [u8; 32]), Refused> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| Refused::NoDevice)?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or(Refused::NoDevice)?;
    let device = DeviceId::new(cn).map_err(|_| Refused::NoDevice)?;
    let spki = cert.public_key();
    // Ed25519's OID: only boards' keys are Ed25519; central's own client key is not.
    if spki.algorithm.algorithm.to_id_string() != "1.3.101.112" {
        return Err(Refused::NoDevice);
    }
    let key: [u8; 32] = spki
        .subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| Refused::NoDevice)?;
    Ok((device, key))
}

/// Reads one whole MQTT packet, which must be a CONNECT, of at most [`MAX_CONNECT`] bytes.
async fn read_connect<R: AsyncReadExt + Unpin>(r: &mut R) -> anyhow::Result<Vec<u8>> {
    let packet = read_packet(r, MAX_CONNECT).await?;
    if packet[0] != 0x10 {
        return Err(Refused::NotConnect("the first packet is not CONNECT").into());
    }
    Ok(packet)
}

/// Reads one whole MQTT packet of at most `max` bytes after its fixed header.
async fn read_packet<R: AsyncReadExt + Unpin>(r: &mut R, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut packet = vec![r.read_u8().await?];
    let mut len = 0usize;
    for i in 0..4 {
        let b = r.read_u8().await?;
        packet.push(b);
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
        if i == 3 {
            return Err(Refused::BadPacket("bad remaining length").into());
        }
    }
    if len > max {
        return Err(Refused::BadPacket("too large").into());
    }
    let head = packet.len();
    packet.resize(head + len, 0);
    r.read_exact(&mut packet[head..]).await?;
    Ok(packet)
}

/// The client id of a whole CONNECT packet (MQTT 3.1.1 or 5).
pub fn client_id(packet: &[u8]) -> Result<String, Refused> {
    let short = Refused::NotConnect("CONNECT cut short");
    // Skip the fixed header: the type byte and the remaining length.
    let mut at = 1;
    while packet.get(at).ok_or(short.clone())? & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    let u16_at = |at: usize| -> Result<usize, Refused> {
        let b = packet.get(at..at + 2).ok_or(short.clone())?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    // Protocol name, then level, flags and keep-alive.
    let name_len = u16_at(at)?;
    let name = packet.get(at + 2..at + 2 + name_len).ok_or(short.clone())?;
    if name != b"MQTT" && name != b"MQIsdp" {
        return Err(Refused::NotConnect("not the MQTT protocol"));
    }
    at += 2 + name_len;
    let level = *packet.get(at).ok_or(short.clone())?;
    at += 4;
    if level == 5 {
        // Properties: a variable-length size, then that many bytes.
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = *packet.get(at).ok_or(short.clone())?;
            at += 1;
            size |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
            if shift > 21 {
                return Err(Refused::NotConnect("bad properties length"));
            }
        }
        at += size;
    }
    let id_len = u16_at(at)?;
    let id = packet.get(at + 2..at + 2 + id_len).ok_or(short)?;
    String::from_utf8(id.to_vec()).map_err(|_| Refused::NotConnect("client id is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONNECT as rumqttc writes it.
    fn connect(client: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&[0, 4]);
        body.extend_from_slice(b"MQTT");
        body.extend_from_slice(&[4, 0x02, 0, 30]);
        body.extend_from_slice(&(client.len() as u16).to_be_bytes());
        body.extend_from_slice(client.as_bytes());
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend(body);
        packet
    }

    #[test]
    fn the_client_id_is_read_from_a_connect() {
        assert_eq!(
            client_id(&connect("kontum-kiosk-1")).as_deref(),
            Ok("kontum-kiosk-1")
        );
        let mut cut = connect("kontum-kiosk-1");
        cut.truncate(cut.len() - 3);
        assert!(client_id(&cut).is_err());
        let mut other = connect("x");
        other[4] = b'N';
        assert_eq!(
            client_id(&other),
            Err(Refused::NotConnect("not the MQTT protocol"))
        );
    }

    #[tokio::test]
    async fn only_a_bounded_connect_is_read() {
        let good = connect("kontum-kiosk-1");
        let mut r = &good[..];
        assert_eq!(read_connect(&mut r).await.unwrap(), good);
        let publish = [0x30u8, 2, 0, 0];
        let mut r = &publish[..];
        assert!(read_connect(&mut r).await.is_err());
        // A remaining length of 2 MiB is refused before any of it is read.
        let huge = [0x10u8, 0x80, 0x80, 0x80, 0x01];
        let mut r = &huge[..];
        let e = read_connect(&mut r).await.unwrap_err().to_string();
        assert!(e.contains("too large"), "{e}");
    }

    fn with_length(first: u8, body: Vec<u8>) -> Vec<u8> {
        let mut p = vec![first, body.len() as u8];
        p.extend(body);
        p
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    #[test]
    fn a_board_publishes_and_subscribes_only_on_its_own_topics() {
        let allowed = crate::broker_acl::DeviceTopics::of(
            &rong_protocol::BranchId::new("kontum").unwrap(),
            &DeviceId::new("kontum-kiosk-1").unwrap(),
        );
        let publish = |topic: &str| {
            let mut body = string(topic);
            body.extend_from_slice(b"payload");
            check_packet(&with_length(0x30, body), &allowed)
        };
        assert_eq!(publish("rong/v1/kontum/kontum-kiosk-1/events"), Ok(()));
        assert!(publish("rong/v1/kontum/kontum-kiosk-2/events").is_err());
        assert!(
            publish("rong/v1/kontum/deltas").is_err(),
            "only central sends deltas"
        );
        let subscribe = |filters: &[&str]| {
            let mut body = vec![0, 1];
            for f in filters {
                body.extend(string(f));
                body.push(1);
            }
            check_packet(&with_length(0x82, body), &allowed)
        };
        assert_eq!(
            subscribe(&["rong/v1/kontum/kontum-kiosk-1/ack", "rong/v1/kontum/deltas"]),
            Ok(())
        );
        assert_eq!(
            subscribe(&["rong/v1/kontum/kontum-kiosk-1/ack", "rong/v1/#"]),
            Err(Refused::Subscribe("rong/v1/#".into()))
        );
        assert!(subscribe(&["rong/v1/dakto/deltas"]).is_err());
        assert!(subscribe(&[]).is_err());
        // A PINGREQ passes; a publish cut short does not.
        assert_eq!(check_packet(&[0xc0, 0], &allowed), Ok(()));
        assert!(check_packet(&[0x30, 1, 0], &allowed).is_err());
    }

    #[test]
    fn a_device_certificate_names_its_device_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = super::super::Ca::load_or_create(dir.path()).unwrap();
        let board = rong_identity::KeyPair::generate();
        let device = DeviceId::new("kontum-kiosk-1").unwrap();
        let issued = ca
            .issue_device(&device, "kontum", &board.public(), 90)
            .unwrap();
        let der = rong_identity::tls::certificates("device", &issued.pem)
            .unwrap()
            .remove(0);
        let (named, key) = certified_device(der.as_ref()).unwrap();
        assert_eq!(named, device);
        assert_eq!(&key, board.public().as_bytes());
        // Central's own client certificate names no device.
        let (client, _) = ca.client().unwrap();
        let der = rong_identity::tls::certificates("client", &client)
            .unwrap()
            .remove(0);
        assert_eq!(certified_device(der.as_ref()), Err(Refused::NoDevice));
    }
}
