//! `central import marc` and `central export marc`: MARC files in and out of the catalogue.
//!
//! The import streams each file (format told by content), turns every good record into a
//! [`CatalogueEntry`] with the items of its holdings fields on one thread, and stores them in
//! batches, one transaction each, on another. Every record left out is kept as a [`Skipped`]
//! with its position and reason and leaves nothing behind; the rest imports.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use rong_protocol::delta::{Item, ItemStatus};
use rong_protocol::fold::nfc;
use rong_protocol::ids::BranchId;

use crate::config::{HoldingsCodes, ImportConfig};
use crate::marc::{self, iso2709, marcxml, Format, Record, RecordError};
use central_store::catalogue::{Announce, CatalogueEntry, Prepared, Upsert};
use central_store::{Store, StoreError};

/// Records per transaction.
const BATCH: usize = 20_000;

/// An import of fewer records is small: it is announced to devices as deltas, a change per
/// record and item; a bigger one by snapshot markers.
const SMALL: usize = 5_000;

/// The import's SQLite page cache: the catalogue's indexes take random inserts.
const IMPORT_CACHE_KIB: u32 = 128 * 1024;

/// Why an import or export failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The configuration's holdings mapping is unusable.
    #[error("bad import configuration: {0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the export failed.
    #[error("export failed: {0}")]
    Write(#[from] marc::WriteError),
    /// A stored record no longer parses (it was valid when imported).
    #[error("stored record {id} does not parse: {reason}")]
    Stored {
        /// The 001.
        id: String,
        /// Why.
        reason: String,
    },
}

/// One record (or file) left out, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub file: PathBuf,
    /// 1-based record number in the file (0 for the file as a whole).
    pub position: u64,
    /// Byte offset of the record's start: always for ISO 2709; for MARCXML only for records
    /// the reader rejects (a record refused after reading, such as for its branch, has none).
    pub offset: Option<u64>,
    /// The 001, when it could be read.
    pub control_number: Option<String>,
    /// Why it was left out.
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if self.position > 0 {
            let mut parts = Vec::new();
            if let Some(offset) = self.offset {
                parts.push(format!("byte {offset}"));
            }
            if let Some(cn) = &self.control_number {
                parts.push(format!("001 {cn}"));
            }
            if parts.is_empty() {
                write!(f, "record {}: ", self.position)?;
            } else {
                write!(f, "record {} ({}): ", self.position, parts.join(", "))?;
            }
        }
        f.write_str(&self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New records.
    pub imported: u64,
    /// Records whose 001 was already stored, replaced.
    pub updated: u64,
    /// Records (and whole files that hold none) left out, in input order.
    pub skipped: Vec<Skipped>,
    /// Files that could not be opened or read at all, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl ImportReport {
    /// The number of skipped records (file-level notes such as an empty file not counted).
    pub fn skipped_records(&self) -> u64 {
        self.skipped.iter().filter(|s| s.position > 0).count() as u64
    }
}

/// The year in a 260/264 $c such as "c2010." or "[2015]": the first run of four digits.
fn year_of(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(3))
        .find(|&i| {
            b[i..i + 4].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_digit())
                && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
        })
        .and_then(|i| text[i..i + 4].parse().ok())
}

/// Turns one good MARC record into a catalogue entry, or says why it must be skipped.
///
/// `branches` are central's branch ids; MARC branch codes are lower-cased to match them.
pub fn entry_from_record(
    record: &Record,
    codes: &HoldingsCodes,
    config: &ImportConfig,
    branches: &HashSet<String>,
) -> Result<CatalogueEntry, String> {
    let id = record
        .control_number()
        .ok_or("missing 001 control number")?
        .to_owned();
    let marc = iso2709::to_bytes(record).map_err(|e| e.to_string())?;
    let title = nfc(&record.title().unwrap_or_default());
    let author = nfc(record.author().unwrap_or_default());
    let subjects: Vec<String> = record.subjects().into_iter().map(nfc).collect();
    let isbn = record.isbn().first().map(|s| nfc(s));
    let publication = record.get(b"264").or_else(|| record.get(b"260"));
    let publisher = publication
        .and_then(|f| f.first(b'b'))
        .map(|s| nfc(marc::record::trim_isbd(s)))
        .unwrap_or_default();
    let year = publication.and_then(|f| f.first(b'c')).and_then(year_of);
    let mut items = Vec::new();
    for field in record.get_all(&codes.tag) {
        let Some(barcode) = field.first(codes.barcode).map(str::trim) else {
            continue;
        };
        if barcode.is_empty() {
            continue;
        }
        let code = field
            .first(codes.home_branch)
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let branch = match (&code, &config.default_branch) {
            (Some(c), _) if branches.contains(c) => c.clone(),
            (_, Some(d)) => d.clone(),
            (Some(c), None) => {
                return Err(format!(
                    "item {barcode}: branch {c:?} is not a central branch (set import.default_branch to use one anyway)"
                ))
            }
            (None, None) => {
                return Err(format!(
                    "item {barcode}: no branch in {} ${} (set import.default_branch)",
                    String::from_utf8_lossy(&codes.tag),
                    codes.home_branch as char
                ))
            }
        };
        let home_branch =
            BranchId::new(branch.clone()).map_err(|e| format!("branch {branch:?}: {e}"))?;
        let item_type = codes
            .item_type
            .and_then(|c| field.first(c))
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| config.default_item_type.clone());
        let call_number = field
            .first(codes.call_number)
            .map(|s| nfc(s.trim()))
            .unwrap_or_default();
        let shelf = field
            .first(codes.shelf)
            .map(|s| nfc(s.trim()))
            .unwrap_or_default();
        items.push(Item {
            barcode: barcode.to_owned(),
            record: id.clone(),
            title: title.clone(),
            author: author.clone(),
            call_number,
            item_type,
            shelf,
            home_branch,
            status: ItemStatus::Available,
        });
    }
    let call_number = items
        .iter()
        .map(|i| i.call_number.clone())
        .find(|c| !c.is_empty())
        .unwrap_or_default();
    Ok(CatalogueEntry {
        id,
        title,
        author,
        subjects,
        publisher,
        year,
        isbn,
        call_number,
        marc,
        items,
    })
}

/// Where a record waiting for its batch came from.
struct Origin {
    /// The file's index in the import's list.
    file_no: usize,
    position: u64,
    /// For ISO 2709: a byte offset at or before the record's start (see [`find_offset`]).
    lower_bound: Option<u64>,
}

/// Records ready to write, sent from the reading thread to the writing one.
struct Batch {
    entries: Vec<Prepared>,
    origins: Vec<Origin>,
    announce: Announce,
    /// Records read so far, for progress.
    read: u64,
}

/// Readers give byte offsets only with their errors. A record refused after reading is found
/// in the file by its exact bytes, searching from a known lower bound of its start (the end of
/// what came before, give or take padding and bad records between).
fn find_offset(path: &Path, lower_bound: u64, record: &[u8]) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(lower_bound)).ok()?;
    let mut window = Vec::new();
    file.take(record.len() as u64 + 256 * 1024)
        .read_to_end(&mut window)
        .ok()?;
    let start = window.windows(record.len()).position(|w| w == record)?;
    Some(lower_bound + start as u64)
}

/// What the reading thread found besides the batches it sent.
#[derive(Default)]
struct ReadReport {
    /// Records (and files) left out while reading, with their file's index.
    skipped: Vec<(usize, Skipped)>,
    /// Files that could not be opened or read.
    unreadable: Vec<(PathBuf, String)>,
    /// Records read.
    done: u64,
}

/// The reading side: parses, checks and prepares records, and sends them in batches.
struct Reader<'a> {
    codes: &'a HoldingsCodes,
    config: &'a ImportConfig,
    branches: &'a HashSet<String>,
    out: SyncSender<Batch>,
    entries: Vec<Prepared>,
    origins: Vec<Origin>,
    /// Whether a batch went out already: the import is big, announced by snapshot markers.
    sent: bool,
    report: ReadReport,
}

/// The writer stopped (it failed); the reader stops too.
struct WriterGone;

impl Reader<'_> {
    fn skip(&mut self, file_no: usize, file: &Path, e: RecordError) {
        self.report.skipped.push((
            file_no,
            Skipped {
                file: file.to_owned(),
                position: e.position,
                offset: Some(e.offset),
                control_number: e.control_number,
                reason: e.kind.to_string(),
            },
        ));
    }

    /// Sends the waiting records. `last`: nothing follows, so an import that never filled
    /// a batch, with fewer than [`SMALL`] records, is announced row by row.
    fn send(&mut self, last: bool) -> Result<(), WriterGone> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let announce = if last && !self.sent && self.entries.len() < SMALL {
            Announce::EachRow
        } else {
            Announce::Snapshot
        };
        self.sent = true;
        let batch = Batch {
            entries: std::mem::replace(&mut self.entries, Vec::with_capacity(BATCH)),
            origins: std::mem::replace(&mut self.origins, Vec::with_capacity(BATCH)),
            announce,
            read: self.report.done,
        };
        self.out.send(batch).map_err(|_| WriterGone)
    }

    fn file(&mut self, file_no: usize, path: &Path) -> Result<(), WriterGone> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.report
                    .unreadable
                    .push((path.to_owned(), format!("cannot open: {e}")));
                return Ok(());
            }
        };
        let mut input = BufReader::with_capacity(256 * 1024, file);
        let format = match input.fill_buf() {
            Ok([]) => {
                self.report.skipped.push((
                    file_no,
                    Skipped {
                        file: path.to_owned(),
                        position: 0,
                        offset: None,
                        control_number: None,
                        reason: "empty file, no records".into(),
                    },
                ));
                return Ok(());
            }
            Ok(head) => marc::detect(head),
            Err(e) => {
                self.report
                    .unreadable
                    .push((path.to_owned(), format!("cannot read: {e}")));
                return Ok(());
            }
        };
        let records: Box<dyn Iterator<Item = Result<Record, RecordError>>> = match format {
            Format::Iso2709 => Box::new(iso2709::Reader::new(input)),
            Format::MarcXml => Box::new(marcxml::Reader::new(input)),
            Format::Unknown => {
                self.skip(
                    file_no,
                    path,
                    RecordError::new(1, 0, marc::RecordErrorKind::NotMarc),
                );
                return Ok(());
            }
        };
        // ISO 2709 only: where the next record starts at the earliest.
        let mut lower_bound = (format == Format::Iso2709).then_some(0u64);
        // Readers give positions (and byte offsets) only with errors; count good ones here.
        let mut position = 0u64;
        for result in records {
            position += 1;
            self.report.done += 1;
            match result {
                Err(e) => {
                    position = e.position;
                    lower_bound = lower_bound.map(|_| e.offset + 1);
                    if matches!(e.kind, marc::RecordErrorKind::Io(_)) && e.position <= 1 {
                        self.report
                            .unreadable
                            .push((path.to_owned(), e.kind.to_string()));
                    }
                    self.skip(file_no, path, e);
                }
                Ok(record) => {
                    let here = lower_bound;
                    let entry = entry_from_record(&record, self.codes, self.config, self.branches)
                        .and_then(|e| Prepared::new(e).map_err(|e| e.to_string()));
                    match entry {
                        Ok(prepared) => {
                            lower_bound = here.map(|lb| lb + prepared.entry.marc.len() as u64);
                            self.entries.push(prepared);
                            self.origins.push(Origin {
                                file_no,
                                position,
                                lower_bound: here,
                            });
                        }
                        Err(reason) => {
                            let bytes = here.and_then(|_| iso2709::to_bytes(&record).ok());
                            let offset = match (here, &bytes) {
                                (Some(lb), Some(b)) => find_offset(path, lb, b),
                                _ => None,
                            };
                            lower_bound = match (here, &bytes) {
                                (Some(lb), Some(b)) => Some(offset.unwrap_or(lb) + b.len() as u64),
                                (Some(lb), None) => Some(lb + 1),
                                _ => None,
                            };
                            self.report.skipped.push((
                                file_no,
                                Skipped {
                                    file: path.to_owned(),
                                    position,
                                    offset,
                                    control_number: record.control_number().map(str::to_owned),
                                    reason,
                                },
                            ));
                        }
                    }
                    if self.entries.len() >= BATCH {
                        self.send(false)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads every file, then sends what is left.
    fn run(mut self, files: &[PathBuf]) -> ReadReport {
        for (file_no, file) in files.iter().enumerate() {
            if self.file(file_no, file).is_err() {
                return self.report;
            }
        }
        // A failure to send means the writer failed; it reports that.
        let _ = self.send(true);
        self.report
    }
}

/// Imports MARC files into the store. `progress` is called with the number of records read
/// so far after each batch is stored.
///
/// One thread reads, checks and prepares the records while this one writes them, a batch
/// per transaction. An import of fewer than [`SMALL`] records logs a change per record and
/// item, so devices get it as deltas; a bigger one logs one snapshot marker per transaction
/// instead, and devices behind a marker take the snapshot.
pub fn import_files(
    store: &mut Store,
    config: &ImportConfig,
    files: &[PathBuf],
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let codes = config.holdings.codes().map_err(ImportError::Config)?;
    let branches: HashSet<String> = store
        .ref_cache()?
        .branches
        .into_iter()
        .map(|b| b.id.as_str().to_owned())
        .collect();
    store.prepare_bulk_load(IMPORT_CACHE_KIB)?;
    let mut report = ImportReport::default();
    // Store refusals, with their file's index.
    let mut refused: Vec<(usize, Skipped)> = Vec::new();
    let (read, written) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
        let reader = Reader {
            codes: &codes,
            config,
            branches: &branches,
            out: tx,
            entries: Vec::with_capacity(BATCH),
            origins: Vec::with_capacity(BATCH),
            sent: false,
            report: ReadReport::default(),
        };
        let reading = scope.spawn(move || reader.run(files));
        let mut written: Result<(), ImportError> = Ok(());
        for batch in rx.iter() {
            let outcomes = match store.import_prepared(&batch.entries, batch.announce) {
                Ok(o) => o,
                Err(e) => {
                    written = Err(e.into());
                    break;
                }
            };
            for ((origin, prepared), outcome) in
                batch.origins.into_iter().zip(batch.entries).zip(outcomes)
            {
                match outcome {
                    Upsert::Inserted => report.imported += 1,
                    Upsert::Updated => report.updated += 1,
                    Upsert::Skipped(reason) => {
                        let file = &files[origin.file_no];
                        let entry = prepared.entry;
                        refused.push((
                            origin.file_no,
                            Skipped {
                                file: file.clone(),
                                position: origin.position,
                                offset: origin
                                    .lower_bound
                                    .and_then(|lb| find_offset(file, lb, &entry.marc)),
                                control_number: Some(entry.id),
                                reason,
                            },
                        ));
                    }
                }
            }
            progress(batch.read);
        }
        // Dropping the receiver stops a reader still sending (after a failed write).
        drop(rx);
        let read = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, written)
    });
    written?;
    progress(read.done);
    // Records refused by the store are known only when their batch is written: list each
    // file's skips in input order.
    let mut skipped = read.skipped;
    skipped.extend(refused);
    skipped.sort_by_key(|(file_no, s)| (*file_no, s.position));
    report.skipped = skipped.into_iter().map(|(_, s)| s).collect();
    report.unreadable = read.unreadable;
    Ok(report)
}

/// Writes every imported record to `out`: its exact ISO 2709 bytes, or MARCXML built from
/// them. Returns the number of records written.
pub fn export<W: Write>(store: &Store, format: ExportFormat, out: W) -> Result<u64, ImportError> {
    match format {
        ExportFormat::Iso2709 => {
            let mut out = out;
            let n = store.for_each_marc(|_, bytes| -> Result<(), ImportError> {
                out.write_all(bytes).map_err(marc::WriteError::from)?;
                Ok(())
            })?;
            out.flush().map_err(marc::WriteError::from)?;
            Ok(n)
        }
        ExportFormat::Marcxml => {
            let mut writer = marcxml::CollectionWriter::new(out)?;
            let n = store.for_each_marc(|id, bytes| -> Result<(), ImportError> {
                let record =
                    iso2709::parse_structure(bytes).map_err(|kind| ImportError::Stored {
                        id: id.to_owned(),
                        reason: kind.to_string(),
                    })?;
                writer.write(&record)?;
                Ok(())
            })?;
            writer.finish()?;
            Ok(n)
        }
    }
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// ISO 2709 (binary MARC21), the exact bytes imported.
    Iso2709,
    /// MARCXML, one `<collection>`.
    Marcxml,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marc::Field;

    fn data(tag: &[u8; 3], subs: &[(u8, &str)]) -> Field {
        Field::text(tag, subs)
    }

    fn record(holdings: Vec<Field>) -> Record {
        let mut r = Record::new();
        r.fields.push(Field::control(b"001", "KTR1"));
        r.fields.push(data(b"100", &[(b'a', "Nguyễn Nhật Ánh,")]));
        r.fields.push(data(b"245", &[(b'a', "Mắt biếc /")]));
        r.fields.push(data(
            b"260",
            &[(b'a', "Hà Nội :"), (b'b', "Kim Đồng,"), (b'c', "c2019.")],
        ));
        r.fields.extend(holdings);
        r
    }

    fn branches() -> HashSet<String> {
        ["kt01".to_string()].into_iter().collect()
    }

    #[test]
    fn koha_952_gives_items() {
        let r = record(vec![data(
            b"952",
            &[
                (b'a', "KT01"),
                (b'b', "KT01"),
                (b'p', "KT0001"),
                (b'y', "BOOK"),
                (b'o', "895.9 NG"),
            ],
        )]);
        let config = ImportConfig::default();
        let codes = config.holdings.codes().unwrap();
        let e = entry_from_record(&r, &codes, &config, &branches()).unwrap();
        assert_eq!(e.id, "KTR1");
        assert_eq!(e.title, "Mắt biếc");
        assert_eq!(e.publisher, "Kim Đồng");
        assert_eq!(e.year, Some(2019));
        assert_eq!(e.call_number, "895.9 NG");
        assert_eq!(e.items.len(), 1);
        let i = &e.items[0];
        assert_eq!(
            (i.barcode.as_str(), i.item_type.as_str()),
            ("KT0001", "book")
        );
        assert_eq!(i.home_branch.as_str(), "kt01");
        assert_eq!(e.marc, iso2709::to_bytes(&r).unwrap());
    }

    #[test]
    fn unknown_branch_skips_unless_a_default_is_set() {
        let r = record(vec![data(b"952", &[(b'a', "XX"), (b'p', "KT0002")])]);
        let mut config = ImportConfig::default();
        let codes = config.holdings.codes().unwrap();
        let err = entry_from_record(&r, &codes, &config, &branches()).unwrap_err();
        assert!(err.contains("\"xx\" is not a central branch"), "{err}");
        config.default_branch = Some("kt01".into());
        let e = entry_from_record(&r, &codes, &config, &branches()).unwrap();
        assert_eq!(e.items[0].home_branch.as_str(), "kt01");
        assert_eq!(e.items[0].item_type, "book", "default item type");
    }

    #[test]
    fn marc21_852_mapping() {
        let r = record(vec![data(
            b"852",
            &[(b'b', "kt01"), (b'h', "398.2"), (b'p', "KT0003")],
        )]);
        let mut config = ImportConfig::default();
        config.holdings.tag = "852".into();
        config.default_item_type = "reference".into();
        let codes = config.holdings.codes().unwrap();
        let e = entry_from_record(&r, &codes, &config, &branches()).unwrap();
        assert_eq!(e.items[0].call_number, "398.2");
        assert_eq!(e.items[0].item_type, "reference");
        assert_eq!(e.items[0].barcode, "KT0003");
    }

    #[test]
    fn years() {
        assert_eq!(year_of("c2010."), Some(2010));
        assert_eq!(year_of("[1998?]"), Some(1998));
        assert_eq!(year_of("12345"), None);
        assert_eq!(year_of("s.a."), None);
    }
}
