//! Fuzzing the protocol decoder with structure: real messages of every kind, encoded, then
//! mutated where it hurts (a value swapped for a huge number, a long or strange string, a
//! deep nest, a missing key; or raw bytes changed), and decoded as the receiver would.
//!
//! The properties: decoding never panics; whatever is accepted encodes again to the same
//! bytes and stays under the broker's limit; a signed envelope opens only untouched.
//! CI runs 256 cases a target; `scripts/fuzz.sh` runs many more and reports them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::Index;
use rong_protocol::codec::Versioned;
use rong_protocol::delta::{CatchupRequest, Delta, Downlink, DownlinkBody};
use rong_protocol::envelope::{self, Signer};
use rong_protocol::event::{Ack, Event, EventBatch, EventBody};
use rong_protocol::status::{
    Command, CommandKind, CommandReply, DeviceState, DeviceStatus, HardwareStatus, Health,
};
use rong_protocol::{decode, encode, MAX_PAYLOAD, SCHEMA_VERSION};
use rong_tests::fixtures as fx;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

fn event(seq: u64, body: EventBody) -> Event {
    Event {
        seq,
        id: Uuid::from_u128(0x0190_c8a4_0000_7000_8000_0000_0000_0000 + u128::from(seq)),
        at: 1_764_720_000_000 + seq as i64,
        clock_synced: seq % 2 == 0,
        body,
    }
}

fn batch() -> EventBatch {
    let (item, patron) = ("KT00000001".to_string(), fx::PATRON.to_string());
    let due = fx::date(2026, 12, 24);
    EventBatch::new(
        fx::device_id(),
        Uuid::from_u128(7),
        vec![
            event(
                1,
                EventBody::Identify {
                    patron: patron.clone(),
                    pin: None,
                },
            ),
            event(
                2,
                EventBody::Checkout {
                    item: item.clone(),
                    patron: patron.clone(),
                    due,
                },
            ),
            event(
                3,
                EventBody::Renew {
                    item: item.clone(),
                    patron: patron.clone(),
                    due,
                    renewals: 1,
                },
            ),
            event(
                4,
                EventBody::Checkin {
                    item,
                    patron: Some(patron.clone()),
                },
            ),
            event(5, EventBody::PinLocked { patron }),
        ],
    )
}

fn delta() -> Downlink {
    let mut ops = fx::library();
    ops.push(rong_protocol::delta::Op::PutLoan(fx::loan(
        "KT00000002",
        fx::PATRON,
        fx::date(2026, 12, 24),
    )));
    ops.extend(
        fx::tet(&fx::branch_id())
            .into_iter()
            .map(rong_protocol::delta::Op::PutClosedDay),
    );
    Downlink::delta(Delta {
        from_version: 4,
        to_version: 9,
        ops,
    })
}

fn status() -> DeviceStatus {
    let mut hardware = BTreeMap::new();
    hardware.insert(
        "barcode".to_string(),
        HardwareStatus {
            health: Health::Error,
            detail: Some("unplugged".into()),
        },
    );
    DeviceStatus {
        v: SCHEMA_VERSION,
        device: fx::device_id(),
        branch: fx::branch_id(),
        state: DeviceState::Online,
        version: "0.1.0".into(),
        boot_id: "b00t".into(),
        started_at: 1_764_720_000_000,
        at: 1_764_720_060_000,
        time_synced: true,
        outbox_depth: 3,
        oldest_unsynced_age_s: Some(12),
        catalogue_version: 9,
        disk_free_bytes: Some(1 << 30),
        temperature_c: Some(51.5),
        hardware,
        digitise: None,
    }
}

fn command() -> Command {
    Command {
        v: SCHEMA_VERSION,
        id: "c-1".into(),
        kind: CommandKind::ShowMessage {
            text: "Thư viện đóng cửa lúc 17 giờ".into(),
            seconds: 30,
        },
    }
}

/// The ways a value is replaced: where a decoder meets what it did not expect.
fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Bool(true)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MIN)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1.0e308)),
        Just(serde_json::json!("")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        // Long enough to cross every field limit, short enough to stay under the payload's.
        (1usize..5_000).prop_map(|n| Value::String("đ".repeat(n))),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::String("\u{0}\u{202e}\u{feff}a\u{301}".into())),
        // Deeper than serde_json's recursion limit.
        Just(
            serde_json::from_str(&format!("{}{}", "[".repeat(300), "]".repeat(300)))
                .unwrap_or(Value::Null)
        ),
    ]
}

/// The JSON pointer of every node of `v`, in pre-order.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            let k = k.replace('~', "~0").replace('/', "~1");
            pointers(x, format!("{at}/{k}"), out)
        }),
        _ => {}
    }
}

/// One structural mutation of `v`.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, Value),
    DropKey(Index),
    RepeatElement(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), hostile()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => any::<Index>().prop_map(Mutation::DropKey),
        1 => (any::<Index>(), 2usize..2_000).prop_map(|(i, n)| Mutation::RepeatElement(i, n)),
    ]
}

fn apply(v: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(v, String::new(), &mut all);
    let (Mutation::Replace(i, _) | Mutation::DropKey(i) | Mutation::RepeatElement(i, _)) = m;
    let Some(node) = v.pointer_mut(&all[i.index(all.len())]) else {
        return;
    };
    match m {
        Mutation::Replace(_, new) => *node = new.clone(),
        Mutation::DropKey(i) => {
            if let Value::Object(o) = node {
                if let Some(k) = o.keys().nth(i.index(o.len().max(1))).cloned() {
                    o.remove(&k);
                }
            }
        }
        Mutation::RepeatElement(_, n) => {
            if let Value::Array(a) = node {
                if let Some(first) = a.first().cloned() {
                    a.extend(std::iter::repeat_n(first, *n));
                }
            }
        }
    }
}

/// Decodes `bytes` as `T` the way a receiver does. Accepted means: encodes again to a
/// payload under the limit, which decodes to the same bytes again.
fn check<T: DeserializeOwned + Serialize + Versioned>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = decode::<T>(bytes) {
        let again = encode(&msg);
        prop_assert!(
            again.len() <= MAX_PAYLOAD,
            "accepted, then {} bytes",
            again.len()
        );
        let back = decode::<T>(&again);
        prop_assert!(back.is_ok(), "re-encoded message refused: {:?}", back.err());
        prop_assert_eq!(
            encode(&back.map_err(|e| TestCaseError::fail(e.to_string()))?),
            again
        );
    }
    Ok(())
}

/// A receiver's check of one kind of message.
type Check = fn(&[u8]) -> Result<(), TestCaseError>;

/// Every kind of message, encoded, with its decoder.
fn samples() -> Vec<(Vec<u8>, Check)> {
    vec![
        (encode(&batch()), check::<EventBatch>),
        (encode(&Ack::new(Uuid::from_u128(7), 5)), check::<Ack>),
        (
            encode(&Ack::new(Uuid::from_u128(7), 5).in_epoch(Uuid::from_u128(3))),
            check::<Ack>,
        ),
        (encode(&delta()), check::<Downlink>),
        (
            encode(
                &Downlink::new(DownlinkBody::SnapshotRequired {
                    version: 9,
                    path: "/api/v1/snapshot/kontum".into(),
                })
                .in_epoch(Uuid::from_u128(3)),
            ),
            check::<Downlink>,
        ),
        (encode(&CatchupRequest::new(4)), check::<CatchupRequest>),
        (encode(&status()), check::<DeviceStatus>),
        (encode(&command()), check::<Command>),
        (
            encode(&CommandReply::new("c-1".into(), false, "không")),
            check::<CommandReply>,
        ),
    ]
}

#[test]
fn every_sample_decodes_untouched() {
    for (bytes, check) in samples() {
        check(&bytes).unwrap();
    }
    assert!(decode::<Downlink>(&encode(&delta())).is_ok());
    assert!(decode::<EventBatch>(&encode(&batch())).is_ok());
}

proptest! {
    #[test]
    fn fuzz_decoder_with_structural_mutations(
        which in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let all = samples();
        let (bytes, check) = &all[which.index(all.len())];
        let mut v: Value = serde_json::from_slice(bytes).expect("a sample is JSON");
        for m in &mutations {
            apply(&mut v, m);
        }
        let mutated = serde_json::to_vec(&v).expect("encodes");
        check(&mutated)?;
    }

    #[test]
    fn fuzz_decoder_with_byte_mutations(
        which in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<Index>()),
    ) {
        let all = samples();
        let (bytes, check) = &all[which.index(all.len())];
        let mut b = bytes.clone();
        for (at, byte) in &edits {
            let i = at.index(b.len());
            b[i] = *byte;
        }
        if let Some(c) = cut {
            b.truncate(c.index(b.len() + 1));
        }
        check(&b)?;
    }

    #[test]
    fn fuzz_envelope_opens_only_what_was_sealed(
        which in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 0..4),
    ) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let me = Signer::Device(fx::device_id());
        let topic = format!("rong/v1/{}/{}/events", fx::branch_id(), fx::device_id());
        let all = samples();
        let (body, _) = &all[which.index(all.len())];
        let sealed = envelope::seal(&key, &me, &topic, 1_764_720_000_000, [9; 16], body);
        let mut b = sealed.clone();
        for (at, byte) in &edits {
            let i = at.index(b.len());
            b[i] = *byte;
        }
        let opened = envelope::open(&b, &topic, |_| Some((key.verifying_key(), Some(fx::branch_id()))));
        if b == sealed {
            prop_assert_eq!(opened.map(|o| o.body.to_vec()).ok(), Some(body.clone()));
        } else {
            prop_assert!(opened.is_err(), "a changed envelope opened");
        }
    }
}
