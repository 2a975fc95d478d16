//! Made-up agent answers, used only by `kiosk screenshots` to put each screen in a
//! realistic state without a running agent. The tests use a real agent instead.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::NaiveDate;
use rong_protocol::api::{
    AgentStatus, ApiError, BranchAvailability, ErrorCode, LoanView, PatronView, Reply, RequestOp,
    SearchHit,
};

use rong_protocol::digitise::{DublinCore, JobView};

use crate::link::Link;

/// A link that only records requests; [`answer`] makes up the replies.
#[derive(Debug, Clone, Default)]
pub struct RecordingLink {
    /// Requests not yet answered.
    pub sent: Rc<RefCell<Vec<(u64, RequestOp)>>>,
}

impl Link for RecordingLink {
    fn send(&self, tag: u64, op: RequestOp) {
        self.sent.borrow_mut().push((tag, op));
    }
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
}

const TITLES: [&str; 4] = [
    "Địa chí Kon Tum",
    "Truyện cổ tích Ba Na",
    "Kỹ thuật trồng cà phê ở Tây Nguyên",
    "Dế Mèn phiêu lưu ký",
];

fn title_of(item: &str) -> String {
    let n: usize = item
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    TITLES[n % TITLES.len()].to_owned()
}

/// The refusal `rules` give for `item`'s last digit, if any.
fn refuse_by_last_digit(item: &str, rules: &[(char, ErrorCode)]) -> Result<(), ApiError> {
    match rules.iter().find(|(last, _)| item.ends_with(*last)) {
        Some((_, code)) => Err(ApiError::new(*code, "")),
        None => Ok(()),
    }
}

/// A plausible answer to `op`. Codes ending in `9` are refused, `P...5` cards need a
/// PIN (`1234`), `B...` cards are blocked, UID `STAFF` is a staff card.
pub fn answer(op: &RequestOp) -> Result<Reply, ApiError> {
    match op {
        RequestOp::Identify(who) => {
            let id = who.card.clone().or(who.uid.clone()).unwrap_or_default();
            if id.starts_with('B') {
                return Err(ApiError::new(ErrorCode::PatronBlocked, ""));
            }
            if id.ends_with('5') && who.pin.as_deref() != Some("1234") {
                return Err(ApiError::new(
                    if who.pin.is_some() {
                        ErrorCode::WrongPin
                    } else {
                        ErrorCode::PinRequired
                    },
                    "",
                ));
            }
            let staff = id == "STAFF";
            Ok(Reply::Identified {
                session: "demo".into(),
                patron: PatronView {
                    card: id,
                    name: if staff {
                        "Thủ thư Hạnh"
                    } else {
                        "Nguyễn Thị Ngọc Ánh"
                    }
                    .into(),
                    category: "adult".into(),
                    loans: 2,
                    max_loans: 5,
                    staff,
                },
            })
        }
        RequestOp::Checkout { item, .. } => {
            refuse_by_last_digit(item, &[('9', ErrorCode::NotForLoan)])?;
            Ok(Reply::CheckedOut {
                item: item.clone(),
                title: title_of(item),
                due: day(12, 16),
            })
        }
        RequestOp::Checkin { item } => {
            refuse_by_last_digit(item, &[('9', ErrorCode::UnknownItem)])?;
            Ok(Reply::CheckedIn {
                item: item.clone(),
                title: Some(title_of(item)),
                was_on_loan: true,
                transfer_to: item.ends_with('2').then(|| "dakto".parse().ok()).flatten(),
                transfer_to_name: item.ends_with('2').then(|| "Thư viện huyện Đắk Tô".into()),
            })
        }
        RequestOp::Loans(_) => Ok(Reply::Loans {
            loans: vec![
                LoanView {
                    item: "KT00000011".into(),
                    title: title_of("1"),
                    due: day(11, 20),
                    overdue: true,
                    renewals: 0,
                },
                LoanView {
                    item: "KT00000012".into(),
                    title: title_of("2"),
                    due: day(12, 2),
                    overdue: false,
                    renewals: 2,
                },
                LoanView {
                    item: "KT00000013".into(),
                    title: title_of("3"),
                    due: day(12, 9),
                    overdue: false,
                    renewals: 0,
                },
            ],
        }),
        RequestOp::Renew { item, .. } => {
            refuse_by_last_digit(
                item,
                &[('1', ErrorCode::Overdue), ('2', ErrorCode::RenewLimit)],
            )?;
            Ok(Reply::Renewed {
                item: item.clone(),
                title: title_of(item),
                due: day(12, 23),
                renewals: 1,
            })
        }
        RequestOp::Search { .. } => Ok(Reply::SearchResults {
            hits: vec![
                SearchHit {
                    record: "KT-1".into(),
                    title: "Địa chí Kon Tum".into(),
                    author: "Ủy ban nhân dân tỉnh Kon Tum".into(),
                    year: Some(2006),
                    call_number: "959.762 ĐIA".into(),
                    shelf: Some("Kho địa chí, giá 3".into()),
                    available_here: 2,
                    total_here: 3,
                    elsewhere: vec![BranchAvailability {
                        branch: "dakto"
                            .parse()
                            .map_err(|_| ApiError::new(ErrorCode::Internal, ""))?,
                        name: "Đắk Tô".into(),
                        available: 1,
                        total: 1,
                    }],
                },
                SearchHit {
                    record: "KT-2".into(),
                    title: "Địa lý Tây Nguyên".into(),
                    author: "Lê Bá Thảo".into(),
                    year: Some(1998),
                    call_number: "915.97 ĐIA".into(),
                    shelf: None,
                    available_here: 0,
                    total_here: 1,
                    elsewhere: vec![],
                },
            ],
        }),
        RequestOp::Status => {
            let status = serde_json::json!({
                "device": "kontum-kiosk-1", "branch": "kontum", "online": false,
                "outbox_depth": 7, "oldest_unsynced_age_s": 340, "last_seq": 120,
                "acked_through": 113, "catalogue_version": 4211, "rejected_messages": 0,
                "hardware": {
                    "barcode": {"health": "ok"},
                    "nfc": {"health": "ok"},
                    "printer": {"health": "error", "detail": "paper out"}
                }
            });
            serde_json::from_value::<AgentStatus>(status)
                .map(Reply::Status)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
        }
        RequestOp::PrintReceipt { .. } => Err(ApiError::new(ErrorCode::PrinterUnavailable, "")),
        RequestOp::JobList { .. } => jobs(),
        RequestOp::JobScan { batch: true, .. } => Err(ApiError::new(
            ErrorCode::ScannerError,
            "paper jam in the feeder",
        )),
        RequestOp::JobStart { .. }
        | RequestOp::JobGet { .. }
        | RequestOp::JobScan { .. }
        | RequestOp::PageRescan { .. }
        | RequestOp::PageDelete { .. }
        | RequestOp::PageMove { .. }
        | RequestOp::PageRotate { .. } => job(),
        RequestOp::PageImage { page, .. } => Ok(Reply::PageImage {
            jpeg_base64: thumb(*page),
            width: 140,
            height: 200,
        }),
        _ => Ok(Reply::Done),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// The station's jobs, one in each state.
fn jobs() -> Result<Reply, ApiError> {
    from_json(serde_json::json!({"type": "jobs", "jobs": [
        {"job": "J5", "title": "Sử thi Ba Na: Dăm Noi", "state": "open", "pages": 5,
         "bytes_total": 0, "bytes_sent": 0, "created_at": 5},
        {"job": "J4", "title": "Địa chí Kon Tum", "record": "KT-1", "state": "queued",
         "pages": 212, "bytes_total": 1_480_000_000u64, "bytes_sent": 530_000_000u64,
         "created_at": 4},
        {"job": "J3", "title": "Báo Kon Tum, số Xuân 1995", "state": "sent", "pages": 24,
         "bytes_total": 96_000_000u64, "bytes_sent": 96_000_000u64, "created_at": 3},
        {"job": "J2", "title": "Truyện cổ tích Ba Na", "state": "safe", "document": "d-77",
         "pages": 48, "bytes_total": 310_000_000u64, "bytes_sent": 310_000_000u64,
         "created_at": 2},
        {"job": "J1", "title": "Gia phả họ Nguyễn, làng Kon Klor", "state": "refused",
         "reason": "checksum mismatch: data/master/0002.png", "pages": 9,
         "bytes_total": 52_000_000u64, "bytes_sent": 52_000_000u64, "created_at": 1}
    ]}))
}

/// An open job of five pages, some flagged by the checks.
fn job() -> Result<Reply, ApiError> {
    let checks = [
        serde_json::json!([]),
        serde_json::json!([{"check": "skewed", "degrees": 3.5}]),
        serde_json::json!([{"check": "blank"}, {"check": "too_light", "mean": 252}]),
        serde_json::json!([{"check": "too_dark", "mean": 41}]),
        serde_json::json!([]),
    ];
    let pages: Vec<serde_json::Value> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::json!({"page": i + 1, "position": i + 1, "width": 2480,
                "height": 3508, "dpi": 300, "rotation": 0, "checks": c,
                "master_bytes": 9_000_000, "access_bytes": 600_000})
        })
        .collect();
    let summary = from_json(serde_json::json!({"job": "J5",
        "title": "Sử thi Ba Na: Dăm Noi", "state": "open", "pages": pages.len(),
        "bytes_total": 0, "bytes_sent": 0, "created_at": 5}))?;
    Ok(Reply::Job(Box::new(JobView {
        summary,
        metadata: DublinCore {
            title: "Sử thi Ba Na: Dăm Noi".into(),
            language: Some("vie".into()),
            ..DublinCore::default()
        },
        pages: pages
            .into_iter()
            .map(from_json)
            .collect::<Result<Vec<_>, _>>()?,
    })))
}

/// A made-up page thumbnail: lines of "text" on paper, as the checks would see it.
fn thumb(page: u32) -> String {
    let (w, h) = (140u32, 200u32);
    let paper: u8 = match page {
        3 => 254,
        4 => 70,
        _ => 235,
    };
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        // Page 2 is skewed: its lines climb to the right.
        let y = if page == 2 { y + x / 10 } else { y };
        let line = page != 3 && (20..180).contains(&y) && y % 12 < 5 && (14..126).contains(&x);
        let v = if line {
            paper.saturating_sub(170)
        } else {
            paper
        };
        image::Rgb([v, v, v.saturating_sub(8)])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    if let Err(e) = img.write_to(&mut jpeg, image::ImageFormat::Jpeg) {
        tracing::warn!(error = %e, "cannot encode a made-up thumbnail");
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(jpeg.into_inner())
}
