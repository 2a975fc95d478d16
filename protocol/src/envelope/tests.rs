use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn dev(id: &str) -> Signer {
    Signer::Device(DeviceId::new(id).unwrap())
}

fn kontum() -> BranchId {
    BranchId::new("kontum").unwrap()
}

const EVENTS: &str = "rong/v1/kontum/kiosk-1/events";

/// Keys as central would look them up: kiosk-1 (key 1) in kontum, central (key 9).
fn keys(s: &Signer) -> Option<(VerifyingKey, Option<BranchId>)> {
    match s {
        Signer::Central => Some((key(9).verifying_key(), None)),
        Signer::Device(d) if d.as_str() == "kiosk-1" => {
            Some((key(1).verifying_key(), Some(kontum())))
        }
        Signer::Device(_) => None,
    }
}

fn sealed(signer: &Signer, k: u8, topic: &str, ts: i64, nonce: u8, body: &[u8]) -> Vec<u8> {
    seal(&key(k), signer, topic, ts, [nonce; 16], body)
}

#[test]
fn a_sealed_message_opens_with_its_body_untouched() {
    let body = br#"{"v":1,"events":[]}"#;
    let p = sealed(&dev("kiosk-1"), 1, EVENTS, 1_000, 7, body);
    assert!(p.ends_with(body), "the body travels as it is");
    let o = open(&p, EVENTS, keys).unwrap();
    assert_eq!(o.signer, dev("kiosk-1"));
    assert_eq!((o.ts, o.nonce, o.body), (1_000, [7; 16], &body[..]));
    let c = sealed(&Signer::Central, 9, "rong/v1/kontum/deltas", 5, 1, b"{}");
    assert_eq!(
        open(&c, "rong/v1/kontum/deltas", keys).unwrap().signer,
        Signer::Central
    );
}

#[test]
fn a_forged_or_moved_message_is_refused() {
    let p = sealed(&dev("kiosk-1"), 1, EVENTS, 1_000, 7, b"{}");
    // Another key claiming kiosk-1.
    let forged = sealed(&dev("kiosk-1"), 2, EVENTS, 1_000, 7, b"{}");
    assert!(matches!(
        open(&forged, EVENTS, keys),
        Err(Refused::BadSignature(_))
    ));
    // The body changed on the way.
    let mut changed = p.clone();
    *changed.last_mut().unwrap() = b']';
    assert!(matches!(
        open(&changed, EVENTS, keys),
        Err(Refused::BadSignature(_))
    ));
    // The same bytes replayed on kiosk-1's status topic: the topic is signed too.
    assert!(matches!(
        open(&p, "rong/v1/kontum/kiosk-1/status", keys),
        Err(Refused::BadSignature(_))
    ));
    // A signer with no key here: never enrolled, or revoked.
    let stranger = sealed(
        &dev("kiosk-9"),
        1,
        "rong/v1/kontum/kiosk-9/events",
        1,
        1,
        b"{}",
    );
    assert!(matches!(
        open(&stranger, "rong/v1/kontum/kiosk-9/events", keys),
        Err(Refused::UnknownSigner(_))
    ));
}

#[test]
fn each_signer_owns_only_its_own_topics() {
    let k1 = dev("kiosk-1");
    let b = kontum();
    for t in [
        EVENTS,
        "rong/v1/kontum/kiosk-1/status",
        "rong/v1/kontum/kiosk-1/cmd-reply",
        "rong/v1/kontum/kiosk-1/catchup",
    ] {
        assert!(may_sign(&k1, Some(&b), t), "{t}");
        assert!(!may_sign(&Signer::Central, None, t), "central on {t}");
    }
    for t in [
        "rong/v1/kontum/kiosk-2/events",
        "rong/v1/dakto/kiosk-1/events",
        "rong/v1/kontum/kiosk-1/ack",
        "rong/v1/kontum/kiosk-1/cmd",
        "rong/v1/kontum/kiosk-1/deltas",
        "rong/v1/kontum/deltas",
        "rong/v1/#",
        "elsewhere/x",
    ] {
        assert!(!may_sign(&k1, Some(&b), t), "{t}");
    }
    assert!(
        !may_sign(&k1, None, EVENTS),
        "a device with no branch owns nothing"
    );
    for t in [
        "rong/v1/kontum/kiosk-1/ack",
        "rong/v1/kontum/kiosk-1/cmd",
        "rong/v1/kontum/kiosk-1/deltas",
        "rong/v1/kontum/deltas",
    ] {
        assert!(may_sign(&Signer::Central, None, t), "{t}");
    }
    // Checked before the signature: a valid signature on another's topic is refused.
    let p = sealed(&k1, 1, "rong/v1/kontum/kiosk-2/events", 1, 1, b"{}");
    assert!(matches!(
        open(&p, "rong/v1/kontum/kiosk-2/events", keys),
        Err(Refused::NotOwner { .. })
    ));
}

#[test]
fn what_is_not_an_envelope_is_refused_as_malformed() {
    let ok = sealed(&dev("kiosk-1"), 1, EVENTS, 1, 1, b"{}");
    let header_len = ok.iter().position(|&b| b == b'\n').unwrap();
    let long_signer = format!(
        "{{\"signer\":\"d/{}\",\"ts\":1,\"nonce\":\"\",\"sig\":\"\"}}\n{{}}",
        "k".repeat(MAX_HEADER)
    );
    for bad in [
        b"{\"v\":1}".to_vec(),
        b"\n{}".to_vec(),
        long_signer.into_bytes(),
        [&ok[..header_len - 2], b"}\n{}"].concat(),
        ok.replace_first(b"\"d/kiosk-1\"", b"\"kiosk-1\""),
        ok.replace_first(b"\"ts\"", b"\"at\""),
    ] {
        assert!(
            matches!(open(&bad, EVENTS, keys), Err(Refused::Malformed(_))),
            "{}",
            String::from_utf8_lossy(&bad)
        );
    }
    assert_eq!(Refused::Malformed(String::new()).reason(), "unsigned");
}

trait ReplaceFirst {
    fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for Vec<u8> {
    fn replace_first(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self.windows(from.len()).position(|w| w == from).unwrap();
        [&self[..at], to, &self[at + from.len()..]].concat()
    }
}

fn opened(ts: i64, nonce: u8) -> Opened<'static> {
    Opened {
        signer: dev("kiosk-1"),
        ts,
        nonce: [nonce; 16],
        body: b"{}",
    }
}

#[test]
fn a_replay_or_a_stale_message_is_refused_and_out_of_order_ones_in_the_window_pass() {
    let mut f = Freshness::new(1_000, 100);
    f.admit(&opened(10_000, 1)).unwrap();
    assert!(matches!(
        f.admit(&opened(10_000, 1)),
        Err(Refused::Replay(_))
    ));
    // Late but within the window, with its own nonce: delivered out of order.
    f.admit(&opened(9_500, 2)).unwrap();
    f.admit(&opened(12_000, 3)).unwrap();
    // Now older than the newest minus the window.
    assert!(f.admit(&opened(10_999, 4)).is_err());
    f.admit(&opened(11_000, 5)).unwrap();
    // Another signer has its own state.
    let mut other = opened(1, 1);
    other.signer = Signer::Central;
    f.admit(&other).unwrap();
    // Forgotten (a new key): starts afresh.
    f.forget(&dev("kiosk-1"));
    f.admit(&opened(10_000, 1)).unwrap();
}

#[test]
fn the_nonce_memory_is_bounded_and_a_forgotten_nonce_cannot_come_back() {
    let mut f = Freshness::new(i64::MAX / 4, 8);
    for i in 0..100u8 {
        f.admit(&opened(1_000 + i64::from(i), i)).unwrap();
    }
    let seen = &f.signers[&dev("kiosk-1")];
    assert!(seen.order.len() <= 8 && seen.nonces.len() <= 8);
    // The window alone would let these in; the raised floor does not.
    for i in 0..92u8 {
        assert!(f.admit(&opened(1_000 + i64::from(i), i)).is_err(), "{i}");
    }
    f.admit(&opened(2_000, 200)).unwrap();
}

proptest! {
    /// Any one byte changed anywhere in a sealed message: refused, never opened as
    /// something else.
    #[test]
    fn any_changed_byte_is_refused(at in 0usize..400, to in any::<u8>()) {
        let body = br#"{"v":1,"log":"0190c8a4-0000-7000-8000-000000000000","acked_through":5}"#;
        let p = sealed(&dev("kiosk-1"), 1, EVENTS, 1_764_720_000_000, 42, body);
        let at = at % p.len();
        prop_assume!(p[at] != to);
        let mut q = p.clone();
        q[at] = to;
        prop_assert!(open(&q, EVENTS, keys).is_err());
    }
}

#[test]
fn a_detached_signature_holds_only_for_its_body_context_and_central() {
    let central = key(1);
    let body = br#"{"state":"safe","document":"d-1"}"#;
    let ctx = "rong-verdict-v1/kontum-station-1/job-1";
    let head = seal_detached(&central, ctx, 5, [3; 16], body);
    assert!(!head.contains('\n'));
    let pk = central.verifying_key();
    assert_eq!(open_detached(&head, ctx, body, &pk), Ok(()));
    // Another body, another context (job), another key: refused.
    let other = br#"{"state":"safe","document":"d-2"}"#;
    assert!(open_detached(&head, ctx, other, &pk).is_err());
    assert!(open_detached(&head, "rong-verdict-v1/kontum-station-1/job-2", body, &pk).is_err());
    assert!(open_detached(&head, ctx, body, &key(2).verifying_key()).is_err());
    // A device's signature is not central's, even with the right key.
    let by_device = seal(&central, &dev("kontum-station-1"), ctx, 5, [3; 16], body);
    let dev_head =
        String::from_utf8(by_device.split(|&b| b == b'\n').next().unwrap().to_vec()).unwrap();
    assert!(matches!(
        open_detached(&dev_head, ctx, body, &pk),
        Err(Refused::UnknownSigner(_))
    ));
    assert!(open_detached("", ctx, body, &pk).is_err());
}
