//! Reference data down: versioned deltas, catch-up, and the snapshot format.
//!
//! A snapshot is gzip-compressed JSON lines: one [`SnapshotHeader`], then one [`Op`] a
//! line, all `put_*`. Applying them to empty tables gives the state at `version`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{Invalid, Versioned};
use crate::ids::BranchId;
pub use crate::limits::too_long;
use crate::limits::{
    texts, too_long_opt, too_many, MAX_AUTHOR_CHARS, MAX_CALL_NUMBER_CHARS, MAX_CODE_CHARS,
    MAX_NFC_UIDS, MAX_PATH_CHARS, MAX_RECORD_BRANCHES, MAX_SUBJECTS, MAX_TITLE_CHARS,
};
use crate::{MAX_BLOCK_REASON_CHARS, MAX_NAME_CHARS, SCHEMA_VERSION};

/// A library site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// Slug id.
    pub id: BranchId,
    /// Display name, Vietnamese.
    pub name: String,
    /// ISO weekdays the branch is always closed (1 = Monday … 7 = Sunday).
    #[serde(default)]
    pub closed_weekdays: Vec<u8>,
    /// Whether every patron must type a PIN at this branch's kiosks.
    #[serde(default)]
    pub require_pin: bool,
}

/// A reader, as much as a device needs to decide and to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patron {
    /// Card number: the barcode on the card.
    pub card: String,
    /// NFC card UIDs bound to the card, upper-case hex.
    #[serde(default)]
    pub nfc_uids: Vec<String>,
    /// Name as shown on the kiosk.
    pub name: String,
    /// Patron category id, such as `adult`.
    pub category: String,
    /// Home branch.
    pub branch: BranchId,
    /// Why the patron is blocked, if blocked.
    #[serde(default)]
    pub blocked: Option<String>,
    /// Last day the card is valid.
    #[serde(default)]
    pub expires: Option<NaiveDate>,
    /// Whether the patron has a PIN. The PIN's hash stays at central, which checks every
    /// PIN (`docs/TRUST.md`): a board holds nothing a PIN can be searched against.
    #[serde(default)]
    pub has_pin: bool,
    /// Whether this patron must always type the PIN.
    #[serde(default)]
    pub pin_required: bool,
    /// Whether the card opens the kiosk's staff menu.
    #[serde(default)]
    pub staff: bool,
}

impl Patron {
    /// Checks the lengths of the patron's texts and lists ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        too_long("card", &self.card, MAX_CODE_CHARS)?;
        texts(
            "NFC UIDs",
            "NFC UID",
            &self.nfc_uids,
            MAX_NFC_UIDS,
            MAX_CODE_CHARS,
        )?;
        too_long("name", &self.name, MAX_NAME_CHARS)?;
        too_long("category", &self.category, MAX_CODE_CHARS)?;
        too_long_opt(
            "block reason",
            self.blocked.as_deref(),
            MAX_BLOCK_REASON_CHARS,
        )
    }
}

/// A patron category and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Id, such as `adult`, `student`, `child`.
    pub id: String,
    /// Display name, Vietnamese.
    pub name: String,
    /// Most loans at once.
    pub max_loans: u32,
}

/// How long an item type lends for to a category, and how often it renews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanRule {
    /// Patron category id, or `*` for any.
    pub category: String,
    /// Item type, or `*` for any.
    pub item_type: String,
    /// Loan period in days; 0 means not for loan.
    pub loan_days: u32,
    /// Most renewals of one loan.
    pub max_renewals: u32,
}

/// What state an item is in, apart from being on loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// On the shelf or on loan; lendable.
    Available,
    /// Reference only.
    NotForLoan,
    /// Reported lost.
    Lost,
    /// Withdrawn or damaged.
    Withdrawn,
}

/// One physical copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Barcode.
    pub barcode: String,
    /// The bibliographic record (MARC 001).
    pub record: String,
    /// Title, NFC.
    pub title: String,
    /// Main author, NFC.
    #[serde(default)]
    pub author: String,
    /// Call number.
    #[serde(default)]
    pub call_number: String,
    /// Item type, such as `book`.
    pub item_type: String,
    /// Shelving location, such as `Kho mở tầng 2`. Empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shelf: String,
    /// The branch it belongs to.
    pub home_branch: BranchId,
    /// Status apart from loans.
    pub status: ItemStatus,
}

impl Item {
    /// Checks the lengths of the item's texts ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        too_long("barcode", &self.barcode, MAX_CODE_CHARS)?;
        too_long("record", &self.record, MAX_CODE_CHARS)?;
        too_long("title", &self.title, MAX_TITLE_CHARS)?;
        too_long("author", &self.author, MAX_AUTHOR_CHARS)?;
        too_long("call number", &self.call_number, MAX_CALL_NUMBER_CHARS)?;
        too_long("item type", &self.item_type, MAX_CODE_CHARS)?;
        too_long("shelf", &self.shelf, MAX_NAME_CHARS)
    }

    /// The compact form other branches get: enough to take the item back and name it
    /// (barcode, record, title, type, home branch, status), without author, call number or
    /// shelf.
    pub fn compact(&self) -> Item {
        Item {
            author: String::new(),
            call_number: String::new(),
            shelf: String::new(),
            ..self.clone()
        }
    }
}

/// A bibliographic record as devices hold it, for "find a book".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The record id (MARC 001).
    pub id: String,
    /// Title, NFC.
    pub title: String,
    /// Main author, NFC.
    #[serde(default)]
    pub author: String,
    /// Subject headings, NFC.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// First ISBN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isbn: Option<String>,
    /// Year of publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// Publisher.
    #[serde(default)]
    pub publisher: String,
    /// Call number of the record (items may carry their own).
    #[serde(default)]
    pub call_number: String,
    /// The branches that hold copies: only they are sent the record.
    #[serde(default)]
    pub branches: Vec<BranchId>,
}

impl Record {
    /// Checks the lengths of the record's texts and lists ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        too_long("record id", &self.id, MAX_CODE_CHARS)?;
        too_long("title", &self.title, MAX_TITLE_CHARS)?;
        too_long("author", &self.author, MAX_AUTHOR_CHARS)?;
        texts(
            "subjects",
            "subject",
            &self.subjects,
            MAX_SUBJECTS,
            MAX_AUTHOR_CHARS,
        )?;
        too_long_opt("ISBN", self.isbn.as_deref(), MAX_CODE_CHARS)?;
        too_long("publisher", &self.publisher, MAX_AUTHOR_CHARS)?;
        too_long("call number", &self.call_number, MAX_CALL_NUMBER_CHARS)?;
        too_many("branches", self.branches.len(), MAX_RECORD_BRANCHES)
    }
}

/// A current loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loan {
    /// Item barcode.
    pub item: String,
    /// Patron card number.
    pub patron: String,
    /// Due date.
    pub due: NaiveDate,
    /// Renewals so far.
    pub renewals: u32,
}

/// A day a branch is closed, beyond its weekly closed days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedDay {
    /// The branch.
    pub branch: BranchId,
    /// The day.
    pub date: NaiveDate,
    /// Why, such as "Tết Nguyên Đán".
    pub reason: String,
}

/// One change to reference data, tagged by `op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Insert or replace a branch.
    PutBranch(Branch),
    /// Insert or replace a patron category.
    PutCategory(Category),
    /// Insert or replace a loan rule, keyed by category and item type.
    PutRule(LoanRule),
    /// Remove the loan rule of a category and item type (loans fall back to a wider one).
    DelRule {
        /// Patron category id, or `*`.
        category: String,
        /// Item type, or `*`.
        item_type: String,
    },
    /// Insert or replace a patron, keyed by card.
    PutPatron(Patron),
    /// Remove a patron.
    DelPatron {
        /// Card number.
        card: String,
    },
    /// Insert or replace an item, keyed by barcode.
    PutItem(Item),
    /// Remove an item.
    DelItem {
        /// Barcode.
        barcode: String,
    },
    /// Insert or replace a bibliographic record, keyed by id.
    PutRecord(Record),
    /// Remove a bibliographic record.
    DelRecord {
        /// Record id.
        id: String,
    },
    /// Insert or replace the loan of an item.
    PutLoan(Loan),
    /// The item is no longer on loan.
    DelLoan {
        /// Barcode.
        item: String,
    },
    /// Add a closed day.
    PutClosedDay(ClosedDay),
    /// Remove a closed day.
    DelClosedDay {
        /// Branch.
        branch: BranchId,
        /// Day.
        date: NaiveDate,
    },
}

impl Op {
    /// Checks the lengths of the op's texts and lists ([`crate::limits`]): every valid op
    /// fits one message under [`crate::MAX_PAYLOAD`].
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        match self {
            Op::PutBranch(b) => {
                too_long("branch name", &b.name, MAX_NAME_CHARS)?;
                too_many("closed weekdays", b.closed_weekdays.len(), 7)
            }
            Op::PutCategory(c) => {
                too_long("category id", &c.id, MAX_CODE_CHARS)?;
                too_long("category name", &c.name, MAX_NAME_CHARS)
            }
            Op::PutRule(r) => {
                too_long("category", &r.category, MAX_CODE_CHARS)?;
                too_long("item type", &r.item_type, MAX_CODE_CHARS)
            }
            Op::PutPatron(p) => p.check_lengths(),
            Op::DelPatron { card } => too_long("card", card, MAX_CODE_CHARS),
            Op::PutItem(i) => i.check_lengths(),
            Op::DelItem { barcode } => too_long("barcode", barcode, MAX_CODE_CHARS),
            Op::PutRecord(r) => r.check_lengths(),
            Op::DelRecord { id } => too_long("record id", id, MAX_CODE_CHARS),
            Op::PutLoan(l) => {
                too_long("item", &l.item, MAX_CODE_CHARS)?;
                too_long("patron", &l.patron, MAX_CODE_CHARS)
            }
            Op::DelLoan { item } => too_long("item", item, MAX_CODE_CHARS),
            Op::PutClosedDay(d) => too_long("reason", &d.reason, MAX_NAME_CHARS),
            Op::DelClosedDay { .. } => Ok(()),
            Op::DelRule {
                category,
                item_type,
            } => {
                too_long("category", category, MAX_CODE_CHARS)?;
                too_long("item type", item_type, MAX_CODE_CHARS)
            }
        }
    }

    /// What `branch` is sent of this op: records only where the branch holds copies,
    /// items in full at their home branch and compact elsewhere, everything else as is.
    pub fn for_branch(&self, branch: &BranchId) -> Option<Op> {
        match self {
            Op::PutRecord(r) if !r.branches.contains(branch) => None,
            Op::PutItem(i) if &i.home_branch != branch => Some(Op::PutItem(i.compact())),
            op => Some(op.clone()),
        }
    }
}

/// A run of changes from one version to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// The version a device must be at to apply it.
    pub from_version: u64,
    /// The version it is at afterwards.
    pub to_version: u64,
    /// Changes, in order. May be empty: versions that touched other branches only.
    pub ops: Vec<Op>,
}

/// A message on a deltas topic, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DownlinkBody {
    /// Apply these changes.
    Delta(Delta),
    /// Too far behind: fetch the snapshot over HTTP, then catch up.
    SnapshotRequired {
        /// The current version at central.
        version: u64,
        /// Path on central's HTTP server, such as `/api/v1/snapshot/dakto`.
        path: String,
    },
}

/// A message on `rong/v1/{branch}/deltas` or `rong/v1/{branch}/{device}/deltas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downlink {
    /// Schema version.
    pub v: u32,
    /// Central's epoch (see `docs/SYNC.md`); absent from centrals that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Uuid>,
    /// What to do.
    #[serde(flatten)]
    pub body: DownlinkBody,
}

impl Downlink {
    /// A message at the current schema version, with no epoch.
    pub fn new(body: DownlinkBody) -> Self {
        Self {
            v: SCHEMA_VERSION,
            epoch: None,
            body,
        }
    }

    /// A delta message at the current schema version, with no epoch.
    pub fn delta(delta: Delta) -> Self {
        Self::new(DownlinkBody::Delta(delta))
    }

    /// The same message, sent in central's `epoch`.
    pub fn in_epoch(self, epoch: Uuid) -> Self {
        Self {
            epoch: Some(epoch),
            ..self
        }
    }
}

impl Versioned for Downlink {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), Invalid> {
        match &self.body {
            DownlinkBody::Delta(d) if d.to_version < d.from_version => {
                Err(Invalid("to_version is below from_version".into()))
            }
            DownlinkBody::Delta(d) => d.ops.iter().try_for_each(Op::check_lengths),
            DownlinkBody::SnapshotRequired { path, .. } => too_long("path", path, MAX_PATH_CHARS),
        }
    }
}

/// Device → central on `.../catchup`: send me what changed after `from_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchupRequest {
    /// Schema version.
    pub v: u32,
    /// The device's current version.
    pub from_version: u64,
}

impl CatchupRequest {
    /// A request at the current schema version.
    pub fn new(from_version: u64) -> Self {
        Self {
            v: SCHEMA_VERSION,
            from_version,
        }
    }
}

impl Versioned for CatchupRequest {
    fn version(&self) -> u32 {
        self.v
    }
}

/// The first line of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Schema version.
    pub v: u32,
    /// The branch the snapshot is for.
    pub branch: BranchId,
    /// The change-log version the snapshot reflects.
    pub version: u64,
}

impl Versioned for SnapshotHeader {
    fn version(&self) -> u32 {
        self.v
    }
}

/// The last line of a snapshot: the SHA-256 (hex) of every line before it, each with its
/// newline, and central's signature over that digest for the branch and version (the
/// header line of `crate::envelope::seal_detached`, context [`snapshot_context`]). A device
/// loads nothing from a snapshot whose trailer is missing or does not check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotTrailer {
    /// SHA-256 of the lines before, hex.
    pub sha256: String,
    /// Central's signature over `sha256`.
    pub signature: String,
}

/// What central's signature in a [`SnapshotTrailer`] is bound to.
pub fn snapshot_context(branch: &BranchId, version: u64) -> String {
    format!("rong-snapshot-v1/{branch}/{version}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    fn b(s: &str) -> BranchId {
        BranchId::new(s).unwrap()
    }

    #[test]
    fn branch_filtering() {
        let item = Item {
            barcode: "KT1".into(),
            record: "R1".into(),
            title: "Địa chí Kon Tum".into(),
            author: "Nhiều tác giả".into(),
            call_number: "915.97 ĐI".into(),
            item_type: "book".into(),
            shelf: "Kho địa chí".into(),
            home_branch: b("kontum"),
            status: ItemStatus::Available,
        };
        let full = Op::PutItem(item.clone());
        assert_eq!(full.for_branch(&b("kontum")), Some(full.clone()));
        let Some(Op::PutItem(compact)) = full.for_branch(&b("dakto")) else {
            panic!("items go to every branch");
        };
        assert_eq!(compact.title, item.title);
        assert_eq!(compact.home_branch, item.home_branch);
        assert!(compact.author.is_empty() && compact.call_number.is_empty());
        assert!(compact.shelf.is_empty());
        let record = Op::PutRecord(Record {
            id: "R1".into(),
            title: "Địa chí Kon Tum".into(),
            author: String::new(),
            subjects: vec!["Kon Tum".into()],
            isbn: None,
            year: Some(2005),
            publisher: String::new(),
            call_number: "915.97".into(),
            branches: vec![b("kontum"), b("dakha")],
        });
        assert!(record.for_branch(&b("dakha")).is_some());
        assert!(record.for_branch(&b("dakto")).is_none());
        let loan = Op::DelLoan { item: "KT1".into() };
        assert_eq!(loan.for_branch(&b("dakto")), Some(loan.clone()));
        // A compact item without a shelf leaves the key out of the JSON.
        let text = serde_json::to_string(&compact).unwrap();
        assert!(!text.contains("shelf"), "{text}");
    }

    #[test]
    fn downlink_round_trip() {
        let msg = Downlink::delta(Delta {
            from_version: 3,
            to_version: 5,
            ops: vec![
                Op::DelLoan { item: "KT1".into() },
                Op::PutCategory(Category {
                    id: "child".into(),
                    name: "Thiếu nhi".into(),
                    max_loans: 3,
                }),
            ],
        });
        let bytes = encode(&msg);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains(r#""type":"delta""#), "{text}");
        assert!(text.contains(r#""op":"del_loan""#), "{text}");
        assert_eq!(decode::<Downlink>(&bytes).unwrap(), msg);
        let backwards = br#"{"v":1,"type":"delta","from_version":5,"to_version":4,"ops":[]}"#;
        assert!(decode::<Downlink>(backwards).is_err());
    }

    #[test]
    fn the_epoch_is_optional_both_ways() {
        // What a central before epochs sent still decodes, with no epoch.
        let old =
            br#"{"v":1,"type":"snapshot_required","version":7,"path":"/api/v1/snapshot/dakto"}"#;
        let msg = decode::<Downlink>(old).unwrap();
        assert_eq!(msg.epoch, None);
        assert!(matches!(
            msg.body,
            DownlinkBody::SnapshotRequired { version: 7, .. }
        ));
        let epoch = Uuid::now_v7();
        let msg = Downlink::delta(Delta {
            from_version: 1,
            to_version: 2,
            ops: vec![],
        })
        .in_epoch(epoch);
        let bytes = encode(&msg);
        assert_eq!(decode::<Downlink>(&bytes).unwrap().epoch, Some(epoch));
        // A reader that predates the field ignores it.
        #[derive(Deserialize)]
        struct Before {
            v: u32,
            #[serde(flatten)]
            body: DownlinkBody,
        }
        let before: Before = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(before.v, 1);
        assert!(matches!(before.body, DownlinkBody::Delta(_)));
        let bare = encode(&Downlink::delta(Delta {
            from_version: 1,
            to_version: 2,
            ops: vec![],
        }));
        assert!(!String::from_utf8_lossy(&bare).contains("epoch"));
    }

    #[test]
    fn a_delta_with_an_over_long_patron_text_is_refused() {
        let patron = |name: String, blocked: Option<String>| {
            Downlink::delta(Delta {
                from_version: 1,
                to_version: 2,
                ops: vec![Op::PutPatron(Patron {
                    card: "P1".into(),
                    nfc_uids: vec![],
                    name,
                    category: "adult".into(),
                    branch: b("kontum"),
                    blocked,
                    expires: None,
                    has_pin: false,
                    pin_required: false,
                    staff: false,
                })],
            })
        };
        // At the limit, counted in characters (each "ệ" is 3 bytes): accepted.
        let longest = patron(
            "ệ".repeat(MAX_NAME_CHARS),
            Some("x".repeat(MAX_BLOCK_REASON_CHARS)),
        );
        assert_eq!(decode::<Downlink>(&encode(&longest)).unwrap(), longest);
        // One character more in either text: refused, and the error names the field.
        let name = patron("ệ".repeat(MAX_NAME_CHARS + 1), None);
        let e = decode::<Downlink>(&encode(&name)).unwrap_err().to_string();
        assert!(e.contains("name has 201 characters"), "{e}");
        let reason = patron("A".into(), Some("x".repeat(MAX_BLOCK_REASON_CHARS + 1)));
        let e = decode::<Downlink>(&encode(&reason))
            .unwrap_err()
            .to_string();
        assert!(e.contains("block reason has 501 characters"), "{e}");
    }
}
