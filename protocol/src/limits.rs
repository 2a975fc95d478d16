//! Maximum lengths of every free-text and list field that crosses a process boundary.
//!
//! Each message checks its fields in [`crate::codec::Versioned::validate`], so a message
//! breaking a limit is refused by [`crate::decode`] with an error naming the field and its
//! length, before anything is applied. Lengths of texts are in characters (what staff
//! type), lists in entries. The limits are chosen so that the largest valid message of
//! each kind, even written entirely in characters JSON escapes to six bytes, stays under
//! [`crate::MAX_PAYLOAD`]; the tests below prove it. The table is in `docs/LIMITS.md`.

use crate::codec::Invalid;

/// Codes and ids: card numbers, barcodes, record and category ids, item types, NFC UIDs.
/// The same as [`crate::barcode::MAX_LEN`].
pub const MAX_CODE_CHARS: usize = crate::barcode::MAX_LEN;

/// Short technical texts: versions, boot ids, command, job, upload and document ids,
/// hardware names, Dublin Core dates and languages.
pub const MAX_SHORT_CHARS: usize = 64;

/// Names: patrons, branches, categories, shelves, a closed day's reason.
pub const MAX_NAME_CHARS: usize = 200;

/// The reason a patron is blocked.
pub const MAX_BLOCK_REASON_CHARS: usize = 500;

/// Titles of records, items and scanned documents.
pub const MAX_TITLE_CHARS: usize = 1000;

/// Authors, publishers, subject headings, Dublin Core creator, subject and rights.
pub const MAX_AUTHOR_CHARS: usize = 500;

/// Call numbers.
pub const MAX_CALL_NUMBER_CHARS: usize = 100;

/// A PIN sealed to central's key in an offline `identify` event (base64 of 48 bytes of
/// box, 33 of padded PIN and the card number: about 140).
pub const MAX_SEALED_PIN_CHARS: usize = 256;

/// Messages for people: a command's text on the kiosk, a command reply, a hardware
/// detail, a verdict's reason.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Paths: a snapshot location, a file inside a bag.
pub const MAX_PATH_CHARS: usize = 256;

/// NFC UIDs bound to one card.
pub const MAX_NFC_UIDS: usize = 8;

/// Subject headings of one record.
pub const MAX_SUBJECTS: usize = 50;

/// Branches listed as holding one record.
pub const MAX_RECORD_BRANCHES: usize = 500;

/// Pieces of hardware in one device status.
pub const MAX_HARDWARE_ENTRIES: usize = 32;

/// Files in one submitted bag (two a page, plus the tag files).
pub const MAX_BAG_FILES: usize = 20_010;

/// Refuses `text` when it has more than `max` characters; the error names `what`.
pub fn too_long(what: &str, text: &str, max: usize) -> Result<(), Invalid> {
    let n = text.chars().count();
    if n > max {
        return Err(Invalid(format!(
            "{what} has {n} characters; at most {max} are allowed"
        )));
    }
    Ok(())
}

/// [`too_long`] for an optional text.
pub fn too_long_opt(what: &str, text: Option<&str>, max: usize) -> Result<(), Invalid> {
    text.map_or(Ok(()), |t| too_long(what, t, max))
}

/// Refuses a list of `len` entries when it has more than `max`.
pub fn too_many(what: &str, len: usize, max: usize) -> Result<(), Invalid> {
    if len > max {
        return Err(Invalid(format!(
            "{what} has {len} entries; at most {max} are allowed"
        )));
    }
    Ok(())
}

/// Refuses a list (`what`) over `max` entries, or any entry (`entry`) over `each`
/// characters.
pub fn texts(
    what: &str,
    entry: &str,
    list: &[String],
    max: usize,
    each: usize,
) -> Result<(), Invalid> {
    too_many(what, list.len(), max)?;
    list.iter().try_for_each(|t| too_long(entry, t, each))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode, Versioned};
    use crate::delta::*;
    use crate::digitise::{BagFile, BagSubmission, BagVerdict, DublinCore};
    use crate::event::{Event, EventBatch, EventBody};
    use crate::ids::{BranchId, DeviceId, MAX_ID_LEN};
    use crate::status::*;
    use crate::{MAX_BATCH_EVENTS, MAX_PAYLOAD, SCHEMA_VERSION};
    use std::collections::BTreeMap;

    /// `n` characters that JSON escapes to six bytes each: the worst case on the wire.
    fn worst(n: usize) -> String {
        "\u{1}".repeat(n)
    }

    fn id(n: usize) -> String {
        "x".repeat(n)
    }

    fn branch(i: usize) -> BranchId {
        let s = format!("{i}{}", "b".repeat(MAX_ID_LEN));
        BranchId::new(&s[..MAX_ID_LEN]).unwrap()
    }

    /// Every op at its limits, with worst-case characters.
    pub(crate) fn largest_ops() -> Vec<Op> {
        let patron = Patron {
            card: id(MAX_CODE_CHARS),
            nfc_uids: vec![id(MAX_CODE_CHARS); MAX_NFC_UIDS],
            name: worst(MAX_NAME_CHARS),
            category: id(MAX_CODE_CHARS),
            branch: branch(0),
            blocked: Some(worst(MAX_BLOCK_REASON_CHARS)),
            expires: None,
            has_pin: true,
            pin_required: true,
            staff: true,
        };
        let item = Item {
            barcode: id(MAX_CODE_CHARS),
            record: id(MAX_CODE_CHARS),
            title: worst(MAX_TITLE_CHARS),
            author: worst(MAX_AUTHOR_CHARS),
            call_number: worst(MAX_CALL_NUMBER_CHARS),
            item_type: id(MAX_CODE_CHARS),
            shelf: worst(MAX_NAME_CHARS),
            home_branch: branch(0),
            status: ItemStatus::Available,
        };
        let record = Record {
            id: worst(MAX_CODE_CHARS),
            title: worst(MAX_TITLE_CHARS),
            author: worst(MAX_AUTHOR_CHARS),
            subjects: vec![worst(MAX_AUTHOR_CHARS); MAX_SUBJECTS],
            isbn: Some(worst(MAX_CODE_CHARS)),
            year: Some(i32::MIN),
            publisher: worst(MAX_AUTHOR_CHARS),
            call_number: worst(MAX_CALL_NUMBER_CHARS),
            branches: (0..MAX_RECORD_BRANCHES).map(branch).collect(),
        };
        vec![
            Op::PutBranch(Branch {
                id: branch(0),
                name: worst(MAX_NAME_CHARS),
                closed_weekdays: vec![7; 7],
                require_pin: true,
            }),
            Op::PutCategory(Category {
                id: worst(MAX_CODE_CHARS),
                name: worst(MAX_NAME_CHARS),
                max_loans: u32::MAX,
            }),
            Op::PutRule(LoanRule {
                category: worst(MAX_CODE_CHARS),
                item_type: worst(MAX_CODE_CHARS),
                loan_days: u32::MAX,
                max_renewals: u32::MAX,
            }),
            Op::PutPatron(patron),
            Op::DelPatron {
                card: worst(MAX_CODE_CHARS),
            },
            Op::PutItem(item),
            Op::DelItem {
                barcode: worst(MAX_CODE_CHARS),
            },
            Op::PutRecord(record),
            Op::DelRecord {
                id: worst(MAX_CODE_CHARS),
            },
            Op::PutLoan(Loan {
                item: worst(MAX_CODE_CHARS),
                patron: worst(MAX_CODE_CHARS),
                due: chrono::NaiveDate::MAX,
                renewals: u32::MAX,
            }),
            Op::DelLoan {
                item: worst(MAX_CODE_CHARS),
            },
            Op::PutClosedDay(ClosedDay {
                branch: branch(0),
                date: chrono::NaiveDate::MAX,
                reason: worst(MAX_NAME_CHARS),
            }),
        ]
    }

    fn fits<T: Versioned + serde::Serialize + serde::de::DeserializeOwned>(what: &str, msg: &T) {
        msg.validate().unwrap_or_else(|e| panic!("{what}: {}", e.0));
        let bytes = encode(msg);
        assert!(
            bytes.len() < MAX_PAYLOAD,
            "{what}: {} bytes at its limits",
            bytes.len()
        );
        decode::<T>(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    #[test]
    fn the_largest_valid_op_event_status_and_command_fit_one_message() {
        for op in largest_ops() {
            let name = format!("{op:?}").chars().take(20).collect::<String>();
            fits(
                &name,
                &Downlink::delta(Delta {
                    from_version: u64::MAX - 1,
                    to_version: u64::MAX,
                    ops: vec![op],
                }),
            );
        }
        let event = |seq| Event {
            seq,
            id: uuid::Uuid::max(),
            at: i64::MIN,
            clock_synced: true,
            body: EventBody::Renew {
                // `"` is a valid code character that JSON escapes.
                item: "\"".repeat(MAX_CODE_CHARS),
                patron: "\"".repeat(MAX_CODE_CHARS),
                due: chrono::NaiveDate::MAX,
                renewals: u32::MAX,
            },
        };
        let device = DeviceId::new(id(MAX_ID_LEN)).unwrap();
        let events = (1..=MAX_BATCH_EVENTS as u64).map(event).collect();
        fits(
            "events",
            &EventBatch::new(device.clone(), uuid::Uuid::max(), events),
        );
        let hardware = (0..MAX_HARDWARE_ENTRIES)
            .map(|i| {
                let detail = Some(worst(MAX_MESSAGE_CHARS));
                let key = format!("{i}{}", worst(MAX_SHORT_CHARS - 2));
                (
                    key,
                    HardwareStatus {
                        health: Health::Error,
                        detail,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        let status = DeviceStatus {
            v: SCHEMA_VERSION,
            device: device.clone(),
            branch: branch(0),
            state: DeviceState::Online,
            version: worst(MAX_SHORT_CHARS),
            boot_id: worst(MAX_SHORT_CHARS),
            started_at: i64::MIN,
            at: i64::MIN,
            time_synced: true,
            outbox_depth: u64::MAX,
            oldest_unsynced_age_s: Some(u64::MAX),
            catalogue_version: u64::MAX,
            disk_free_bytes: Some(u64::MAX),
            temperature_c: Some(f32::MIN),
            hardware,
            digitise: Some(crate::digitise::DigitiseStatus {
                uploading: Some(worst(MAX_SHORT_CHARS)),
                ..Default::default()
            }),
        };
        fits("status", &status);
        let command = Command {
            v: SCHEMA_VERSION,
            id: worst(MAX_SHORT_CHARS),
            kind: CommandKind::ShowMessage {
                text: worst(MAX_MESSAGE_CHARS),
                seconds: u32::MAX,
            },
        };
        fits("command", &command);
        let reply = CommandReply::new(worst(MAX_SHORT_CHARS), false, worst(MAX_MESSAGE_CHARS));
        fits("reply", &reply);
        let offer = Downlink::new(DownlinkBody::SnapshotRequired {
            version: u64::MAX,
            path: worst(MAX_PATH_CHARS),
        })
        .in_epoch(uuid::Uuid::from_u128(u128::MAX));
        fits("snapshot offer", &offer);
    }

    #[test]
    fn one_character_over_any_limit_is_refused_naming_the_field() {
        // Each case: a message at its limits with one field made one character (or entry)
        // longer, and the field's name the error must give.
        let over = |ops: Vec<Op>| {
            Downlink::delta(Delta {
                from_version: 0,
                to_version: ops.len() as u64,
                ops,
            })
        };
        let ops = largest_ops();
        let mut cases: Vec<(Downlink, &str)> = Vec::new();
        let mut patron = match &ops[3] {
            Op::PutPatron(p) => p.clone(),
            _ => unreachable!(),
        };
        patron.nfc_uids.push("04A1B2C3".into());
        cases.push((over(vec![Op::PutPatron(patron)]), "NFC UIDs has 9 entries"));
        let Op::PutRecord(mut record) = ops[7].clone() else {
            unreachable!()
        };
        record.subjects[3].push('x');
        cases.push((over(vec![Op::PutRecord(record.clone())]), "subject has 501"));
        record.subjects[3].pop();
        record.branches.push(branch(1));
        cases.push((
            over(vec![Op::PutRecord(record)]),
            "branches has 501 entries",
        ));
        let Op::PutItem(mut item) = ops[5].clone() else {
            unreachable!()
        };
        item.title.push('x');
        cases.push((over(vec![Op::PutItem(item)]), "title has 1001 characters"));
        cases.push((
            over(vec![Op::DelLoan {
                item: id(MAX_CODE_CHARS + 1),
            }]),
            "item has 65 characters",
        ));
        cases.push((
            over(vec![Op::PutClosedDay(ClosedDay {
                branch: branch(0),
                date: chrono::NaiveDate::MIN,
                reason: id(MAX_NAME_CHARS + 1),
            })]),
            "reason has 201 characters",
        ));
        cases.push((
            Downlink::new(DownlinkBody::SnapshotRequired {
                version: 1,
                path: id(MAX_PATH_CHARS + 1),
            }),
            "path has 257 characters",
        ));
        for (msg, want) in cases {
            let e = decode::<Downlink>(&encode(&msg)).unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want:?})");
        }
        let command = Command {
            v: SCHEMA_VERSION,
            id: "c1".into(),
            kind: CommandKind::ShowMessage {
                text: id(MAX_MESSAGE_CHARS + 1),
                seconds: 3,
            },
        };
        let e = decode::<Command>(&encode(&command))
            .unwrap_err()
            .to_string();
        assert!(e.contains("text has 501 characters"), "{e}");
        let reply = CommandReply::new("c1".into(), true, id(MAX_MESSAGE_CHARS + 1));
        let e = decode::<CommandReply>(&encode(&reply))
            .unwrap_err()
            .to_string();
        assert!(e.contains("message has 501 characters"), "{e}");
        let bag = BagSubmission {
            job: "j".into(),
            device: "d".into(),
            branch: "b".into(),
            files: vec![
                BagFile {
                    path: id(MAX_PATH_CHARS + 1),
                    upload: "u".into(),
                };
                2
            ],
        };
        let e = bag.check_lengths().unwrap_err().0;
        assert!(e.contains("file path has 257 characters"), "{e}");
        let verdict = BagVerdict::Refused {
            reason: id(MAX_MESSAGE_CHARS + 1),
            file: None,
        };
        assert!(verdict.check_lengths().unwrap_err().0.contains("reason"));
        let dc = DublinCore {
            title: id(MAX_TITLE_CHARS + 1),
            ..Default::default()
        };
        assert!(dc.check_lengths().unwrap_err().0.contains("title has 1001"));
    }
}
