//! Signed MQTT messages with this crate's keys: [`KeyPair::seal`] wraps a payload in the
//! envelope of [`rong_protocol::envelope`], and [`open`] checks one against a
//! [`PublicKey`]. Both sides of the wire call these; the envelope's format, what the
//! signature covers and the replay guard are described there.

use rong_protocol::envelope::{self, Opened, Refused, Signer};
use rong_protocol::BranchId;

use crate::http_auth::Signer as DeviceSigner;
use crate::keys::{KeyPair, PublicKey};

impl DeviceSigner {
    /// `body` for `topic`, sealed as this device at its corrected time. A signer whose
    /// name is not a device id cannot sign and answers the body unsealed, which every
    /// receiver refuses.
    pub fn seal(&self, topic: &str, body: &[u8]) -> Vec<u8> {
        match &self.id {
            Some(d) => self
                .key
                .seal(&Signer::Device(d.clone()), topic, self.now_ms(), body),
            None => body.to_vec(),
        }
    }
}

impl KeyPair {
    /// `body` for `topic`, signed as `signer` at `ts_ms` (Unix ms) with a fresh random
    /// nonce: the bytes to publish.
    pub fn seal(&self, signer: &Signer, topic: &str, ts_ms: i64, body: &[u8]) -> Vec<u8> {
        envelope::seal(&self.0, signer, topic, ts_ms, rand::random(), body)
    }
}

impl KeyPair {
    /// Central's signature over `body` for `context`, as a header line to send beside it
    /// (an HTTP answer's `rong-signature`).
    pub fn seal_detached(&self, context: &str, ts_ms: i64, body: &[u8]) -> String {
        envelope::seal_detached(&self.0, context, ts_ms, rand::random(), body)
    }
}

/// Checks central's detached signature `header` over `body` for `context` against `key`.
pub fn open_detached(
    header: &str,
    context: &str,
    body: &[u8],
    key: &PublicKey,
) -> Result<(), Refused> {
    envelope::open_detached(header, context, body, &key.0)
}

/// Opens `payload` received on `topic`. `key_of` gives the signer's key and, for a
/// device, its enrolled branch; `None` when it has none here.
pub fn open<'a>(
    payload: &'a [u8],
    topic: &str,
    key_of: impl FnOnce(&Signer) -> Option<(PublicKey, Option<BranchId>)>,
) -> Result<Opened<'a>, Refused> {
    envelope::open(payload, topic, |s| key_of(s).map(|(k, b)| (k.0, b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::DeviceId;

    const TOPIC: &str = "rong/v1/kontum/kontum-kiosk-1/events";

    fn kiosk() -> Signer {
        Signer::Device(DeviceId::new("kontum-kiosk-1").unwrap())
    }

    #[test]
    fn a_sealed_message_opens_with_its_key_and_no_other() {
        let (key, other) = (KeyPair::generate(), KeyPair::generate());
        let kontum = BranchId::new("kontum").unwrap();
        let sealed = key.seal(&kiosk(), TOPIC, 1_000, b"{\"v\":1}");
        let opened = open(&sealed, TOPIC, |_| {
            Some((key.public(), Some(kontum.clone())))
        })
        .expect("opens");
        assert_eq!(opened.body, b"{\"v\":1}");
        assert_eq!(opened.ts, 1_000);
        let refused = open(&sealed, TOPIC, |_| {
            Some((other.public(), Some(kontum.clone())))
        });
        assert!(
            matches!(refused, Err(Refused::BadSignature(_))),
            "{refused:?}"
        );
        assert!(matches!(
            open(&sealed, TOPIC, |_| None),
            Err(Refused::UnknownSigner(_))
        ));
        // Two seals of the same body differ (the nonce), so neither is a replay of the other.
        assert_ne!(sealed, key.seal(&kiosk(), TOPIC, 1_000, b"{\"v\":1}"));
    }
}
