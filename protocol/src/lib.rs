//! The contract between Rông's programs.
//!
//! Everything that crosses a process boundary is defined here: ids and the one rule for
//! barcodes and card numbers ([`barcode`]), MQTT topics, the messages on them, the
//! edge-agent's local API, the names in a digitised bag's `bag-info.txt`, and the
//! Vietnamese text folding that central and the devices must share. The crate does no I/O.

pub mod api;
pub mod barcode;
pub mod codec;
pub mod delta;
pub mod digitise;
pub mod envelope;
pub mod event;
pub mod fold;
pub mod ids;
pub mod limits;
pub mod privacy;
pub mod search;
pub mod status;
pub mod time;
pub mod topic;

pub use codec::{decode, encode, DecodeError};
pub use ids::{BranchId, DeviceId, IdError};

/// The schema version every message carries in its `v` field.
///
/// An optional field added with a serde default (such as the `epoch` of acks and
/// downlinks) does not change it: older messages still decode, and older readers ignore
/// the field. It changes only when a message would be misread by the other side, because
/// a receiver refuses every other version outright.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest MQTT payload either side accepts, in bytes.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// The most events one batch message may carry.
pub const MAX_BATCH_EVENTS: usize = 200;

pub use limits::{MAX_BLOCK_REASON_CHARS, MAX_NAME_CHARS};
