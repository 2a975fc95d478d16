//! Digitisation: the scanning jobs an edge station keeps, as the local API and the device
//! status show them, and the upload contract between a station and central.
//!
//! A job is one document being scanned. Its pages are numbered by a stable `page` id that
//! never changes when pages are reordered; `position` is where the page sits now. When
//! staff finish a job it is packaged as a BagIt bag and queued for upload; central's
//! answer ("safe") ends the job's journey. See `docs/DIGITISATION.md`.

use serde::{Deserialize, Serialize};

use crate::codec::Invalid;
use crate::limits::{
    too_long, too_long_opt, too_many, MAX_AUTHOR_CHARS, MAX_BAG_FILES, MAX_CODE_CHARS,
    MAX_MESSAGE_CHARS, MAX_PATH_CHARS, MAX_SHORT_CHARS, MAX_TITLE_CHARS,
};

/// Dublin Core fields for a document that is not yet in the catalogue (or that describe
/// the scan of one that is).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DublinCore {
    /// Title. Required.
    pub title: String,
    /// Creator (author).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Date, as written on the document (a year, or a full date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Language, ISO 639 (`vie`, `eng`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Rights statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
}

impl DublinCore {
    /// Checks the lengths of the description's texts ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        too_long("title", &self.title, MAX_TITLE_CHARS)?;
        too_long_opt("creator", self.creator.as_deref(), MAX_AUTHOR_CHARS)?;
        too_long_opt("date", self.date.as_deref(), MAX_SHORT_CHARS)?;
        too_long_opt("subject", self.subject.as_deref(), MAX_AUTHOR_CHARS)?;
        too_long_opt("language", self.language.as_deref(), MAX_SHORT_CHARS)?;
        too_long_opt("rights", self.rights.as_deref(), MAX_AUTHOR_CHARS)
    }
}

/// What a job digitises: a catalogue record, or a document described by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSource {
    /// A record in the catalogue, by its id (MARC 001).
    Record {
        /// The record id.
        record: String,
    },
    /// A document not yet catalogued.
    Described(DublinCore),
}

impl JobSource {
    /// Checks the lengths of the source's texts ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        match self {
            JobSource::Record { record } => too_long("record", record, MAX_CODE_CHARS),
            JobSource::Described(dc) => dc.check_lengths(),
        }
    }
}

/// Where a job is on its way to central.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    /// Staff are scanning; pages may still change.
    Open,
    /// Packaged as a bag and waiting for (or in the middle of) its upload.
    Queued,
    /// Every file is uploaded; central is checking the bag.
    Sent,
    /// Central checked the bag's fixity and keeps it: nothing more to do here.
    Safe {
        /// Central's id for the document.
        document: String,
    },
    /// Central refused the bag.
    Refused {
        /// Why, naming the bad file where there is one.
        reason: String,
    },
}

impl JobState {
    /// The state's name, as in the JSON `state` field.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Open => "open",
            JobState::Queued => "queued",
            JobState::Sent => "sent",
            JobState::Safe { .. } => "safe",
            JobState::Refused { .. } => "refused",
        }
    }
}

/// Something the automatic checks found on a page. Staff decide what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum PageCheck {
    /// Almost nothing on the page.
    Blank,
    /// The page is too dark (mean brightness 0–255).
    TooDark {
        /// Mean brightness.
        mean: u8,
    },
    /// The page is too light (mean brightness 0–255), beyond an ordinary white page.
    TooLight {
        /// Mean brightness.
        mean: u8,
    },
    /// The text lines are not level.
    Skewed {
        /// Estimated angle, degrees, positive clockwise.
        degrees: f32,
    },
}

/// One scanned page of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Stable id within the job.
    pub page: u32,
    /// Where it sits now, from 1.
    pub position: u32,
    /// Width of the master, pixels, after rotation.
    pub width: u32,
    /// Height of the master, pixels, after rotation.
    pub height: u32,
    /// Scan resolution.
    pub dpi: u32,
    /// Quarter turns clockwise applied to the scan (0–3).
    pub rotation: u8,
    /// What the checks found; empty when the page looks fine.
    #[serde(default)]
    pub checks: Vec<PageCheck>,
    /// Size of the lossless master (PNG), bytes.
    pub master_bytes: u64,
    /// Size of the access copy (JPEG), bytes.
    pub access_bytes: u64,
}

/// A job in lists: enough for a row on the staff screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job's id (a ULID-like string, unique across stations).
    pub job: String,
    /// The title to show.
    pub title: String,
    /// The catalogue record, when the job digitises one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Where it is.
    #[serde(flatten)]
    pub state: JobState,
    /// Pages scanned.
    pub pages: u32,
    /// Bytes to upload in all (access files, masters and tag files).
    pub bytes_total: u64,
    /// Bytes central has confirmed.
    pub bytes_sent: u64,
    /// When the job was started, ms since the epoch.
    pub created_at: i64,
}

/// A job with its metadata and pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The row.
    #[serde(flatten)]
    pub summary: JobSummary,
    /// Its Dublin Core description.
    pub metadata: DublinCore,
    /// Its pages in order. (`page_list` in JSON: the flattened summary already has
    /// `pages`, the count.)
    #[serde(rename = "page_list")]
    pub pages: Vec<PageInfo>,
}

/// Which picture of a page to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageImageSize {
    /// A small JPEG for the page strip (about 200 px on the long side).
    Thumb,
    /// A JPEG big enough to check the page on screen (about 1000 px).
    Preview,
}

/// The digitisation part of a device's status: the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DigitiseStatus {
    /// Jobs being scanned.
    pub jobs_open: u32,
    /// Jobs packaged and not yet safe at central.
    pub jobs_waiting: u32,
    /// Pages in those jobs.
    pub pages_waiting: u32,
    /// Bytes of those jobs not yet confirmed by central.
    pub bytes_waiting: u64,
    /// Jobs central has confirmed since the station was set up.
    pub jobs_safe: u32,
    /// Jobs central refused.
    pub jobs_refused: u32,
    /// The job uploading now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploading: Option<String>,
}

/// Keys of the tus `Upload-Metadata` header a station sends with each file.
pub mod upload_meta {
    /// The job id.
    pub const JOB: &str = "job";
    /// The file's path inside the bag (`data/access/0001.jpg`, `bag-info.txt`, ...).
    pub const PATH: &str = "path";
    /// The station.
    pub const DEVICE: &str = "device";
    /// The station's branch.
    pub const BRANCH: &str = "branch";
    /// The whole file's SHA-256, lowercase hex.
    pub const SHA256: &str = "sha256";
}

/// Field names of a bag's `bag-info.txt`: the station writes them, central reads them
/// (RFC 8493 reads labels case-insensitively). The first three are RFC 8493's own.
pub mod bag_info {
    /// The day the bag was made, `YYYY-MM-DD`.
    pub const BAGGING_DATE: &str = "Bagging-Date";
    /// `{payload bytes}.{payload files}`; central refuses a bag whose payload differs.
    pub const PAYLOAD_OXUM: &str = "Payload-Oxum";
    /// The job id, for tools that know no `Rong-` field.
    pub const EXTERNAL_IDENTIFIER: &str = "External-Identifier";
    /// The job id.
    pub const JOB: &str = "Rong-Job";
    /// The station that scanned it.
    pub const DEVICE: &str = "Rong-Device";
    /// The station's branch.
    pub const BRANCH: &str = "Rong-Branch";
    /// The catalogue record digitised, when there is one.
    pub const RECORD: &str = "Rong-Record";
    /// How many pages (each an access and a master file).
    pub const PAGES: &str = "Rong-Pages";
    /// Dublin Core title ([`super::DublinCore::title`]).
    pub const DC_TITLE: &str = "DC-Title";
    /// Dublin Core creator.
    pub const DC_CREATOR: &str = "DC-Creator";
    /// Dublin Core date.
    pub const DC_DATE: &str = "DC-Date";
    /// Dublin Core subject.
    pub const DC_SUBJECT: &str = "DC-Subject";
    /// Dublin Core language.
    pub const DC_LANGUAGE: &str = "DC-Language";
    /// Dublin Core rights.
    pub const DC_RIGHTS: &str = "DC-Rights";
}

/// A station's request to central, once every file of a bag is uploaded: `POST
/// /api/v1/digitisation/bags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BagSubmission {
    /// The job.
    pub job: String,
    /// The station.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// Every file of the bag, by path inside the bag, with the tus upload holding it.
    pub files: Vec<BagFile>,
}

impl BagSubmission {
    /// Checks the lengths of the submission's texts and its file list ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        too_long("job", &self.job, MAX_SHORT_CHARS)?;
        too_long("device", &self.device, MAX_SHORT_CHARS)?;
        too_long("branch", &self.branch, MAX_SHORT_CHARS)?;
        too_many("files", self.files.len(), MAX_BAG_FILES)?;
        self.files.iter().try_for_each(|f| {
            too_long("file path", &f.path, MAX_PATH_CHARS)?;
            too_long("upload id", &f.upload, MAX_SHORT_CHARS)
        })
    }
}

/// One file of a submitted bag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BagFile {
    /// Path inside the bag.
    pub path: String,
    /// The tus upload id (the last segment of its URL).
    pub upload: String,
}

/// The HTTP header carrying central's signature over a [`BagVerdict`]'s body (the header
/// line of `crate::envelope::seal_detached`). A station deletes its masters only on a
/// "safe" verdict whose signature checks against central's pinned key.
pub const VERDICT_SIGNATURE_HEADER: &str = "rong-signature";

/// What central's signature over a verdict is bound to: the station and the job, so a
/// verdict cannot be moved to another job or station.
pub fn verdict_context(device: &str, job: &str) -> String {
    format!("rong-verdict-v1/{device}/{job}")
}

/// Central's answer to a [`BagSubmission`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BagVerdict {
    /// The bag is complete and every checksum matches; central keeps it.
    Safe {
        /// Central's id for the document.
        document: String,
    },
    /// The bag failed its checks and is kept aside, never published.
    Refused {
        /// Why.
        reason: String,
        /// The first bad file, when one is to blame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
}

impl BagVerdict {
    /// Checks the lengths of the verdict's texts ([`crate::limits`]).
    pub fn check_lengths(&self) -> Result<(), Invalid> {
        match self {
            BagVerdict::Safe { document } => too_long("document", document, MAX_SHORT_CHARS),
            BagVerdict::Refused { reason, file } => {
                too_long("reason", reason, MAX_MESSAGE_CHARS)?;
                too_long_opt("file", file.as_deref(), MAX_PATH_CHARS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_summary_json_is_flat_with_its_state() {
        let s = JobSummary {
            job: "01J0".into(),
            title: "Địa chí Kon Tum".into(),
            record: None,
            state: JobState::Safe {
                document: "d1".into(),
            },
            pages: 3,
            bytes_total: 10,
            bytes_sent: 10,
            created_at: 1,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["state"], "safe");
        assert_eq!(v["document"], "d1");
        let back: JobSummary = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn sources_and_verdicts_round_trip() {
        let src = JobSource::Described(DublinCore {
            title: "Sử thi".into(),
            language: Some("vie".into()),
            ..Default::default()
        });
        let j = serde_json::to_string(&src).unwrap();
        assert!(j.contains(r#""kind":"described""#), "{j}");
        assert_eq!(serde_json::from_str::<JobSource>(&j).unwrap(), src);
        let v = BagVerdict::Refused {
            reason: "checksum mismatch".into(),
            file: Some("data/master/0002.png".into()),
        };
        let j = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<BagVerdict>(&j).unwrap(), v);
    }
}
