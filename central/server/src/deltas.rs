//! Pure delta logic: chunking change-log runs into messages that fit under
//! [`MAX_PAYLOAD`], and deciding how to answer a catch-up request.

use rong_protocol::delta::{Delta, Downlink, Op};
use rong_protocol::ids::BranchId;
use rong_protocol::MAX_PAYLOAD;
use uuid::Uuid;

/// Room left for the envelope (`{"v":1,"type":"delta","from_version":…,"ops":[]}`).
const ENVELOPE: usize = 128;

/// Splits consecutive ops, the first at version `from_version + 1`, into deltas for
/// `branch` whose encoded message stays under `limit` bytes. Each op is first cut down to
/// what the branch is sent ([`Op::for_branch`]); versions whose op the branch does not get
/// still count, so the deltas' version ranges stay consecutive and cover every version.
/// An op too large on its own still travels alone (and is logged): dropping it would leave
/// devices stuck. The change log refuses any op over the protocol's limits
/// ([`rong_protocol::limits`]), and every op within them fits one message, so this does
/// not happen with what central stores.
pub fn chunk(from_version: u64, ops: &[Op], branch: &BranchId, limit: usize) -> Vec<Delta> {
    let budget = limit.saturating_sub(ENVELOPE);
    let mut out = Vec::new();
    let mut from = from_version;
    let mut cur: Vec<Op> = Vec::new();
    let mut size = 0usize;
    for (k, op) in ops.iter().enumerate() {
        let version = from_version + k as u64 + 1;
        let Some(op) = op.for_branch(branch) else {
            continue;
        };
        let len = serde_json::to_vec(&op).map(|v| v.len()).unwrap_or(0) + 1;
        if !cur.is_empty() && size + len > budget {
            out.push(Delta {
                from_version: from,
                to_version: version - 1,
                ops: std::mem::take(&mut cur),
            });
            from = version - 1;
            size = 0;
        }
        if len > budget {
            tracing::warn!(bytes = len, "one change-log op exceeds the payload budget");
        }
        size += len;
        cur.push(op);
    }
    let to = from_version + ops.len() as u64;
    if !cur.is_empty() || from < to {
        out.push(Delta {
            from_version: from,
            to_version: to,
            ops: cur,
        });
    }
    out
}

/// [`chunk`] with the protocol's payload limit, encoded as downlink messages in central's
/// `epoch`.
pub fn encode_chunks(
    from_version: u64,
    ops: &[Op],
    branch: &BranchId,
    epoch: Uuid,
) -> Vec<Vec<u8>> {
    chunk(from_version, ops, branch, MAX_PAYLOAD)
        .into_iter()
        .map(|d| rong_protocol::encode(&Downlink::delta(d).in_epoch(epoch)))
        .collect()
}

/// How to answer a catch-up request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchupPlan {
    /// Send the changes after `from` up to `to` as consecutive deltas (`from == to`: one
    /// empty delta, which tells the device it is current).
    Deltas {
        /// The device's version.
        from: u64,
        /// Central's version.
        to: u64,
    },
    /// Too far behind, new, or from another central: fetch the snapshot.
    Snapshot {
        /// Central's version.
        version: u64,
    },
}

/// Decides how to answer `CatchupRequest{from_version}` at central's `current` version;
/// `floor` is the newest snapshot marker (0: none), below which deltas cannot reach.
pub fn plan_catchup(from_version: u64, current: u64, max_ops: u64, floor: u64) -> CatchupPlan {
    if from_version == 0
        || from_version > current
        || current - from_version > max_ops
        || from_version < floor
    {
        CatchupPlan::Snapshot { version: current }
    } else {
        CatchupPlan::Deltas {
            from: from_version,
            to: current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::delta::{Category, DownlinkBody, Item, ItemStatus, Record};

    fn kt() -> BranchId {
        BranchId::new("kontum").unwrap()
    }

    fn op(i: usize, pad: usize) -> Op {
        Op::PutCategory(Category {
            id: format!("c{i}"),
            name: "x".repeat(pad),
            max_loans: 1,
        })
    }

    #[test]
    fn chunks_are_consecutive_and_fit() {
        let ops: Vec<Op> = (0..5000).map(|i| op(i, 200)).collect();
        let deltas = chunk(41, &ops, &kt(), MAX_PAYLOAD);
        assert!(deltas.len() > 1, "5000 × 200 bytes must split");
        assert_eq!(deltas[0].from_version, 41);
        for w in deltas.windows(2) {
            assert_eq!(w[0].to_version, w[1].from_version);
        }
        assert_eq!(deltas.last().unwrap().to_version, 41 + 5000);
        let back: Vec<Op> = deltas.iter().flat_map(|d| d.ops.clone()).collect();
        assert_eq!(back, ops);
        for d in &deltas {
            assert_eq!(d.to_version - d.from_version, d.ops.len() as u64);
        }
        let epoch = Uuid::now_v7();
        for bytes in encode_chunks(41, &ops, &kt(), epoch) {
            assert!(bytes.len() < MAX_PAYLOAD, "{} bytes", bytes.len());
            let msg: Downlink = rong_protocol::decode(&bytes).unwrap();
            assert!(matches!(msg.body, DownlinkBody::Delta(_)));
            assert_eq!(msg.epoch, Some(epoch));
        }
    }

    /// `n` characters JSON escapes to six bytes each.
    fn worst(n: usize) -> String {
        "\u{1}".repeat(n)
    }

    #[test]
    fn a_run_of_the_largest_valid_ops_splits_into_messages_under_both_limits() {
        use rong_protocol::delta::Patron;
        use rong_protocol::limits::*;
        let branches: Vec<BranchId> = (0..MAX_RECORD_BRANCHES)
            .map(|i| BranchId::new(format!("b{i:0>47}")).unwrap())
            .collect();
        let record = |i: usize| {
            Op::PutRecord(Record {
                id: format!("{i:0>64}"),
                title: worst(MAX_TITLE_CHARS),
                author: worst(MAX_AUTHOR_CHARS),
                subjects: vec![worst(MAX_AUTHOR_CHARS); MAX_SUBJECTS],
                isbn: Some(worst(MAX_CODE_CHARS)),
                year: None,
                publisher: worst(MAX_AUTHOR_CHARS),
                call_number: worst(MAX_CALL_NUMBER_CHARS),
                branches: branches.clone(),
            })
        };
        let patron = |i: usize| {
            Op::PutPatron(Patron {
                card: format!("{i:0>64}"),
                nfc_uids: vec![worst(MAX_CODE_CHARS); MAX_NFC_UIDS],
                name: worst(MAX_NAME_CHARS),
                category: worst(MAX_CODE_CHARS),
                branch: branches[0].clone(),
                blocked: Some(worst(MAX_BLOCK_REASON_CHARS)),
                expires: None,
                has_pin: true,
                pin_required: true,
                staff: true,
            })
        };
        let ops: Vec<Op> = (0..40)
            .flat_map(|i| [record(i), patron(i), patron(i + 1000)])
            .collect();
        assert!(ops.iter().all(|op| op.check_lengths().is_ok()));
        let messages = encode_chunks(0, &ops, &branches[0], Uuid::nil());
        assert!(messages.len() > 10, "{} messages", messages.len());
        let mut back = Vec::new();
        for bytes in &messages {
            assert!(bytes.len() <= MAX_PAYLOAD, "{} bytes", bytes.len());
            assert!(bytes.len() <= crate::broker::BROKER_MAX_PAYLOAD);
            let msg: Downlink = rong_protocol::decode(bytes).unwrap();
            let DownlinkBody::Delta(d) = msg.body else {
                panic!("a delta")
            };
            back.extend(d.ops);
        }
        assert_eq!(back, ops, "every op arrives once, in order");
    }

    /// The payload limit the protocol holds messages to is below the packet limit of both
    /// brokers: the embedded one and the Mosquitto config shipped in `images/`.
    #[test]
    fn the_protocol_limit_is_below_both_brokers_limits() {
        let conf = include_str!("../../../images/mosquitto/rong.conf");
        let mosquitto: usize = conf
            .lines()
            .find_map(|l| l.strip_prefix("max_packet_size "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the shipped Mosquitto config sets max_packet_size");
        // An MQTT packet holds the topic and headers besides the payload.
        let headroom = 1024;
        assert!(
            MAX_PAYLOAD + headroom <= mosquitto,
            "mosquitto: {mosquitto}"
        );
        assert!(MAX_PAYLOAD + headroom <= crate::broker::BROKER_MAX_PAYLOAD);
    }

    #[test]
    fn small_and_empty_runs() {
        assert!(chunk(7, &[], &kt(), MAX_PAYLOAD).is_empty());
        let d = chunk(7, &[op(1, 1), op(2, 1)], &kt(), MAX_PAYLOAD);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].from_version, d[0].to_version), (7, 9));
        // A tiny limit puts each op alone, even one larger than the limit.
        let d = chunk(0, &[op(1, 500), op(2, 500)], &kt(), 300);
        assert_eq!(d.len(), 2);
        assert_eq!((d[1].from_version, d[1].to_version), (1, 2));
    }

    #[test]
    fn filtered_per_branch() {
        let dakto = BranchId::new("dakto").unwrap();
        let record = |id: &str, at: &BranchId| {
            Op::PutRecord(Record {
                id: id.into(),
                title: "Địa chí Kon Tum".into(),
                author: String::new(),
                subjects: vec![],
                isbn: None,
                year: None,
                publisher: String::new(),
                call_number: String::new(),
                branches: vec![at.clone()],
            })
        };
        let item = Op::PutItem(Item {
            barcode: "KT1".into(),
            record: "R1".into(),
            title: "Địa chí Kon Tum".into(),
            author: "Nhiều tác giả".into(),
            call_number: "915.97".into(),
            item_type: "book".into(),
            shelf: "Phòng địa chí".into(),
            home_branch: kt(),
            status: ItemStatus::Available,
        });
        let ops = vec![record("R1", &kt()), item.clone(), record("R2", &kt())];
        // Đắk Tô gets only the compact item, but its delta still spans all three versions.
        let d = chunk(10, &ops, &dakto, MAX_PAYLOAD);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].from_version, d[0].to_version), (10, 13));
        assert_eq!(d[0].ops.len(), 1);
        assert!(matches!(&d[0].ops[0], Op::PutItem(i) if i.author.is_empty()));
        // Kon Tum gets everything in full.
        let d = chunk(10, &ops, &kt(), MAX_PAYLOAD);
        assert_eq!(d[0].ops, ops);
        // A run the branch gets nothing of is one empty delta over the whole range.
        let d = chunk(10, &[record("R3", &kt())], &dakto, MAX_PAYLOAD);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].from_version, d[0].to_version), (10, 11));
        assert!(d[0].ops.is_empty());
        // Splitting keeps the ranges consecutive when filtered versions sit between.
        let mut many = Vec::new();
        for i in 0..3000 {
            many.push(op(i, 200));
            many.push(record(&format!("R{i}"), &kt()));
        }
        let d = chunk(0, &many, &dakto, MAX_PAYLOAD);
        assert!(d.len() > 1);
        assert_eq!(d[0].from_version, 0);
        for w in d.windows(2) {
            assert_eq!(w[0].to_version, w[1].from_version);
        }
        assert_eq!(d.last().unwrap().to_version, 6000);
        assert_eq!(d.iter().map(|x| x.ops.len()).sum::<usize>(), 3000);
    }

    #[test]
    fn catchup_plans() {
        use CatchupPlan::{Deltas, Snapshot};
        // (device's version, current version, most ops, snapshot floor) → plan.
        let cases = [
            ((0, 10, 100, 0), Snapshot { version: 10 }),
            ((3, 10, 100, 0), Deltas { from: 3, to: 10 }),
            ((10, 10, 100, 0), Deltas { from: 10, to: 10 }),
            ((11, 10, 100, 0), Snapshot { version: 10 }),
            ((5, 200, 100, 0), Snapshot { version: 200 }),
            ((100, 200, 100, 0), Deltas { from: 100, to: 200 }),
            // A snapshot marker sends devices below it to the snapshot; a device at the
            // marker (it took the snapshot) goes on with deltas.
            ((149, 200, 100, 150), Snapshot { version: 200 }),
            ((150, 200, 100, 150), Deltas { from: 150, to: 200 }),
            ((199, 200, 100, 150), Deltas { from: 199, to: 200 }),
        ];
        for ((have, current, max_ops, floor), want) in cases {
            assert_eq!(
                plan_catchup(have, current, max_ops, floor),
                want,
                "plan_catchup({have}, {current}, {max_ops}, {floor})"
            );
        }
    }
}
