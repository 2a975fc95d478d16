//! Pure delta logic: chunking change-log runs into messages that fit under
//! [`MAX_PAYLOAD`], and deciding how to answer a catch-up request.

use rong_protocol::delta::{Delta, Downlink, Op};
use rong_protocol::MAX_PAYLOAD;

/// Room left for the envelope (`{"v":1,"type":"delta","from_version":…,"ops":[]}`).
const ENVELOPE: usize = 128;

/// Splits consecutive ops, the first at version `from_version + 1`, into deltas whose
/// encoded message stays under `limit` bytes. One op per version, so each chunk's
/// `to_version` is its `from_version` plus its length. An op too large on its own still
/// travels alone (and is logged): dropping it would leave devices stuck.
pub fn chunk(from_version: u64, ops: Vec<Op>, limit: usize) -> Vec<Delta> {
    let budget = limit.saturating_sub(ENVELOPE);
    let mut out = Vec::new();
    let mut from = from_version;
    let mut cur: Vec<Op> = Vec::new();
    let mut size = 0usize;
    for op in ops {
        let len = serde_json::to_vec(&op).map(|v| v.len()).unwrap_or(0) + 1;
        if !cur.is_empty() && size + len > budget {
            let n = cur.len() as u64;
            out.push(Delta {
                from_version: from,
                to_version: from + n,
                ops: std::mem::take(&mut cur),
            });
            from += n;
            size = 0;
        }
        if len > budget {
            tracing::warn!(bytes = len, "one change-log op exceeds the payload budget");
        }
        size += len;
        cur.push(op);
    }
    if !cur.is_empty() {
        let n = cur.len() as u64;
        out.push(Delta {
            from_version: from,
            to_version: from + n,
            ops: cur,
        });
    }
    out
}

/// [`chunk`] with the protocol's payload limit, encoded as downlink messages.
pub fn encode_chunks(from_version: u64, ops: Vec<Op>) -> Vec<Vec<u8>> {
    chunk(from_version, ops, MAX_PAYLOAD)
        .into_iter()
        .map(|d| rong_protocol::encode(&Downlink::delta(d)))
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

/// Decides how to answer `CatchupRequest{from_version}` at central's `current` version.
pub fn plan_catchup(from_version: u64, current: u64, max_ops: u64) -> CatchupPlan {
    if from_version == 0 || from_version > current || current - from_version > max_ops {
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
    use rong_protocol::delta::{Category, DownlinkBody};

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
        let deltas = chunk(41, ops.clone(), MAX_PAYLOAD);
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
        for bytes in encode_chunks(41, ops) {
            assert!(bytes.len() < MAX_PAYLOAD, "{} bytes", bytes.len());
            let msg: Downlink = rong_protocol::decode(&bytes).unwrap();
            assert!(matches!(msg.body, DownlinkBody::Delta(_)));
        }
    }

    #[test]
    fn small_and_empty_runs() {
        assert!(chunk(7, vec![], MAX_PAYLOAD).is_empty());
        let d = chunk(7, vec![op(1, 1), op(2, 1)], MAX_PAYLOAD);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].from_version, d[0].to_version), (7, 9));
        // A tiny limit puts each op alone, even one larger than the limit.
        let d = chunk(0, vec![op(1, 500), op(2, 500)], 300);
        assert_eq!(d.len(), 2);
        assert_eq!((d[1].from_version, d[1].to_version), (1, 2));
    }

    #[test]
    fn catchup_plans() {
        assert_eq!(
            plan_catchup(0, 10, 100),
            CatchupPlan::Snapshot { version: 10 }
        );
        assert_eq!(
            plan_catchup(3, 10, 100),
            CatchupPlan::Deltas { from: 3, to: 10 }
        );
        assert_eq!(
            plan_catchup(10, 10, 100),
            CatchupPlan::Deltas { from: 10, to: 10 }
        );
        assert_eq!(
            plan_catchup(11, 10, 100),
            CatchupPlan::Snapshot { version: 10 }
        );
        assert_eq!(
            plan_catchup(5, 200, 100),
            CatchupPlan::Snapshot { version: 200 }
        );
        assert_eq!(
            plan_catchup(100, 200, 100),
            CatchupPlan::Deltas { from: 100, to: 200 }
        );
    }
}
