//! Readers from a spreadsheet export (CSV), for `central import patrons FILE.csv` and the
//! dashboard's import.
//!
//! The first line names the columns, in any order (see [`COLUMNS`]). Each row is checked on
//! its own; a bad row is reported with its line number and the good rows go in. PINs are
//! hashed with argon2id on import, each with its own salt, and never stored in plain text.
//! Re-importing a card updates that patron; an empty `pin` keeps the PIN it had.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use chrono::NaiveDate;
use rong_protocol::delta::Patron;
use rong_protocol::fold::nfc;
use rong_protocol::ids::{normalise_uid, BranchId};

/// The columns a file may have. The first four are required.
pub const COLUMNS: [&str; 10] = [
    "card",
    "name",
    "category",
    "branch",
    "expires",
    "nfc_uids",
    "pin",
    "pin_required",
    "staff",
    "blocked",
];

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    /// The card number, when the row had one.
    pub card: Option<String>,
    /// Why it was left out.
    pub reason: String,
}

/// A row that passed the checks, before its PIN is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronRow {
    /// Line number in the file.
    pub line: u64,
    /// The patron (`has_pin` is central's store to work out).
    pub patron: Patron,
    /// The plain PIN from the file, if one was given; hashed before storing.
    pub pin: Option<String>,
    /// Its argon2id hash, once [`hash_pins`] has run.
    pub pin_hash: Option<String>,
}

/// A file that cannot be read as a patron list at all.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The header is wrong.
    #[error("{0}")]
    Header(String),
    /// The file is not readable CSV.
    #[error("not a readable CSV file: {0}")]
    Csv(#[from] csv::Error),
}

/// What the rows are checked against.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Category ids.
    pub categories: HashSet<String>,
    /// Branch ids.
    pub branches: HashSet<String>,
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "không" | "khong" => Ok(false),
        "1" | "true" | "yes" | "y" | "có" | "co" | "x" => Ok(true),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

fn parse_date(s: &str) -> Result<Option<NaiveDate>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map(Some)
        .map_err(|_| format!("expires {s:?} is not a date (use 2027-12-31 or 31/12/2027)"))
}

fn check_card(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("card is empty".into());
    }
    if s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(format!(
            "card {s:?} must be 1 to 32 letters, digits, '-' or '.'"
        ));
    }
    Ok(s.to_owned())
}

fn check_pin(s: &str) -> Result<Option<String>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if !(4..=8).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        // The PIN itself is never echoed.
        return Err("pin must be 4 to 8 digits".into());
    }
    Ok(Some(s.to_owned()))
}

/// Reads and checks every row. Returns the good rows and the bad ones, both in file order.
pub fn read_rows(
    input: impl Read,
    known: &Known,
) -> Result<(Vec<PatronRow>, Vec<BadRow>), CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(input);
    let headers = rdr.headers()?.clone();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim_start_matches('\u{feff}');
        let Some(name) = COLUMNS.iter().find(|c| **c == h) else {
            return Err(CsvError::Header(format!(
                "unknown column {h:?} in line 1 (the columns are: {})",
                COLUMNS.join(", ")
            )));
        };
        if index.insert(name, i).is_some() {
            return Err(CsvError::Header(format!("column {h:?} appears twice")));
        }
    }
    for required in &COLUMNS[..4] {
        if !index.contains_key(required) {
            return Err(CsvError::Header(format!(
                "line 1 has no {required:?} column (required: card, name, category, branch)"
            )));
        }
    }
    let mut good: Vec<PatronRow> = Vec::new();
    let mut bad = Vec::new();
    let mut cards: HashMap<String, u64> = HashMap::new();
    let mut uids: HashMap<String, String> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // Bad UTF-8 and the like: the row is reported, reading goes on.
                let line = e.position().map_or(line, |p| p.line());
                bad.push(BadRow {
                    line,
                    card: None,
                    reason: format!("unreadable row: {e}"),
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get =
            |name: &str| -> &str { index.get(name).and_then(|i| record.get(*i)).unwrap_or("") };
        let card = get("card").trim().to_owned();
        let row = check_row(&get, known).and_then(|row| {
            if let Some(first) = cards.get(&row.0.card) {
                return Err(format!("card {} is already on line {first}", row.0.card));
            }
            for uid in &row.0.nfc_uids {
                if let Some(other) = uids.get(uid) {
                    return Err(format!("NFC UID {uid} is already given to card {other}"));
                }
            }
            Ok(row)
        });
        match row {
            Ok((patron, pin)) => {
                cards.insert(patron.card.clone(), line);
                for uid in &patron.nfc_uids {
                    uids.insert(uid.clone(), patron.card.clone());
                }
                good.push(PatronRow {
                    line,
                    patron,
                    pin,
                    pin_hash: None,
                });
            }
            Err(reason) => bad.push(BadRow {
                line,
                card: (!card.is_empty()).then_some(card),
                reason,
            }),
        }
    }
    Ok((good, bad))
}

/// `raw`, trimmed and lower-cased, when it is one of `known`; else an error naming them all.
fn one_of(raw: &str, what: &str, known: &HashSet<String>) -> Result<String, String> {
    let v = raw.trim().to_lowercase();
    if known.contains(&v) {
        return Ok(v);
    }
    let mut all: Vec<_> = known.iter().cloned().collect();
    all.sort();
    Err(format!(
        "{what} {v:?} is not known (known: {})",
        all.join(", ")
    ))
}

fn check_row<'a>(
    get: &dyn Fn(&str) -> &'a str,
    known: &Known,
) -> Result<(Patron, Option<String>), String> {
    let card = check_card(get("card"))?;
    let name = nfc(get("name").trim());
    if name.is_empty() {
        return Err("name is empty".into());
    }
    let category = one_of(get("category"), "category", &known.categories)?;
    let branch = one_of(get("branch"), "branch", &known.branches)?;
    let branch = BranchId::new(branch).map_err(|e| e.to_string())?;
    let expires = parse_date(get("expires"))?;
    let mut nfc_uids = Vec::new();
    for raw in get("nfc_uids")
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let uid = normalise_uid(raw).ok_or_else(|| {
            format!("NFC UID {raw:?} is not 4 to 10 bytes of hex (such as 04A1B2C3D4E5F6)")
        })?;
        if !nfc_uids.contains(&uid) {
            nfc_uids.push(uid);
        }
    }
    nfc_uids.sort();
    let pin = check_pin(get("pin"))?;
    let pin_required = parse_bool(get("pin_required")).map_err(|e| format!("pin_required: {e}"))?;
    let staff = parse_bool(get("staff")).map_err(|e| format!("staff: {e}"))?;
    let blocked = Some(nfc(get("blocked").trim())).filter(|s| !s.is_empty());
    let patron = Patron {
        card,
        nfc_uids,
        name,
        category,
        branch,
        blocked,
        expires,
        has_pin: false,
        pin_required,
        staff,
    };
    // The limits every device holds a delta to: a row over them would stall its branch.
    patron.check_lengths().map_err(|e| e.0)?;
    Ok((patron, pin))
}

/// Hashes the rows' PINs with argon2id (default parameters, a fresh salt each), spread over
/// the machine's cores, dropping the plain PINs. Rows without a PIN keep `pin_hash` unset.
pub fn hash_pins(rows: &mut [PatronRow]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for part in rows.chunks_mut(chunk) {
            s.spawn(move || {
                let argon = Argon2::default();
                for row in part {
                    if let Some(pin) = row.pin.take() {
                        let salt =
                            SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                        row.pin_hash = argon
                            .hash_password(pin.as_bytes(), &salt)
                            .map(|h| h.to_string())
                            .ok();
                    }
                }
            });
        }
    });
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatronReport {
    /// New patrons.
    pub imported: u64,
    /// Patrons that existed and were updated.
    pub updated: u64,
    /// Rows left out, with their line numbers and reasons.
    pub skipped: Vec<BadRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            categories: ["adult", "child"].iter().map(|s| s.to_string()).collect(),
            branches: ["kontum", "dakto"].iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn good_and_bad_rows() {
        let csv = "\u{feff}card,name,category,branch,expires,nfc_uids,pin,staff\n\
            P1,Nguyễn Văn A,adult,kontum,2027-12-31,04:a1:b2:c3,1234,\n\
            P2,Y Bhăm,child,DAKTO,31/12/2027,,,no\n\
            ,No card,adult,kontum,,,,\n\
            P3,Bad category,teacher,kontum,,,,\n\
            P4,Bad pin,adult,kontum,,,12ab,\n\
            P1,Again,adult,kontum,,,,\n\
            P5,Bad date,adult,kontum,2027-02-30,,,\n\
            P6,Same uid,adult,kontum,,04A1B2C3,,\n\
            \n\
            P7,\"Trần, Thị B\",adult,dakto,,,,có\n";
        let (good, bad) = read_rows(csv.as_bytes(), &known()).unwrap();
        let cards: Vec<_> = good.iter().map(|r| r.patron.card.as_str()).collect();
        assert_eq!(cards, ["P1", "P2", "P7"]);
        assert_eq!(good[0].line, 2);
        assert_eq!(good[0].patron.nfc_uids, ["04A1B2C3"]);
        assert_eq!(good[0].pin.as_deref(), Some("1234"));
        assert_eq!(good[1].patron.branch.as_str(), "dakto");
        assert_eq!(
            good[1].patron.expires,
            NaiveDate::from_ymd_opt(2027, 12, 31)
        );
        assert_eq!(good[2].patron.name, "Trần, Thị B");
        assert!(good[2].patron.staff);
        let lines: Vec<_> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [4, 5, 6, 7, 8, 9]);
        assert!(bad[0].reason.contains("card is empty"));
        assert!(bad[1].reason.contains("teacher"));
        assert!(bad[2].reason.contains("pin must be"));
        assert!(!bad[2].reason.contains("12ab"), "PINs are never echoed");
        assert!(bad[3].reason.contains("already on line 2"));
        assert!(bad[4].reason.contains("not a date"));
        assert!(bad[5].reason.contains("already given to card P1"));
    }

    #[test]
    fn headers() {
        let e = read_rows("card,name,branch\n".as_bytes(), &known()).unwrap_err();
        assert!(e.to_string().contains("category"), "{e}");
        let e = read_rows("card,name,category,branch,colour\n".as_bytes(), &known()).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let (good, bad) = read_rows("card,name,category,branch\n".as_bytes(), &known()).unwrap();
        assert!(good.is_empty() && bad.is_empty());
    }

    #[test]
    fn over_long_names_and_block_reasons_are_refused_with_their_length() {
        use rong_protocol::{MAX_BLOCK_REASON_CHARS, MAX_NAME_CHARS};
        let (name, reason) = (MAX_NAME_CHARS, MAX_BLOCK_REASON_CHARS);
        let csv = format!(
            "card,name,category,branch,blocked\n\
             P1,{},adult,kontum,{}\n\
             P2,{},adult,kontum,\n\
             P3,C,adult,kontum,{}\n",
            "ệ".repeat(name),
            "x".repeat(reason),
            "ệ".repeat(name + 1),
            "x".repeat(reason + 1),
        );
        let (good, bad) = read_rows(csv.as_bytes(), &known()).unwrap();
        let cards: Vec<_> = good.iter().map(|r| r.patron.card.as_str()).collect();
        assert_eq!(cards, ["P1"], "texts at the limit are kept");
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 3);
        assert!(
            bad[0].reason.contains("name has 201 characters"),
            "{}",
            bad[0].reason
        );
        assert_eq!(bad[1].line, 4);
        assert!(
            bad[1].reason.contains("block reason has 501"),
            "{}",
            bad[1].reason
        );
    }

    #[test]
    fn invalid_utf8_row_is_reported() {
        let mut bytes = b"card,name,category,branch\nP1,A,adult,kontum\nP2,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",adult,kontum\nP3,C,adult,kontum\n");
        let (good, bad) = read_rows(bytes.as_slice(), &known()).unwrap();
        let cards: Vec<_> = good.iter().map(|r| r.patron.card.as_str()).collect();
        assert_eq!(cards, ["P1", "P3"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
    }

    #[test]
    fn pins_are_hashed() {
        let (mut good, _) = read_rows(
            "card,name,category,branch,pin\nP1,A,adult,kontum,2468\nP2,B,adult,kontum,\n"
                .as_bytes(),
            &known(),
        )
        .unwrap();
        hash_pins(&mut good);
        let hash = good[0].pin_hash.clone().unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("2468"));
        assert!(good[0].pin.is_none(), "the plain PIN is dropped");
        assert!(good[1].pin_hash.is_none());
    }
}
