//! Made-up agent answers, used only by `kiosk screenshots` to put each screen in a
//! realistic state without a running agent. The tests use a real agent instead.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::NaiveDate;
use rong_protocol::api::{
    AgentStatus, ApiError, BranchAvailability, ErrorCode, LoanView, PatronView, Reply, RequestOp,
    SearchHit,
};

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
        RequestOp::Checkout { item, .. } if item.ends_with('9') => {
            Err(ApiError::new(ErrorCode::NotForLoan, ""))
        }
        RequestOp::Checkout { item, .. } => Ok(Reply::CheckedOut {
            item: item.clone(),
            title: title_of(item),
            due: day(12, 16),
        }),
        RequestOp::Checkin { item } if item.ends_with('9') => {
            Err(ApiError::new(ErrorCode::UnknownItem, ""))
        }
        RequestOp::Checkin { item } => Ok(Reply::CheckedIn {
            item: item.clone(),
            title: Some(title_of(item)),
            was_on_loan: true,
            transfer_to: item.ends_with('2').then(|| "dakto".parse().ok()).flatten(),
            transfer_to_name: item.ends_with('2').then(|| "Thư viện huyện Đắk Tô".into()),
        }),
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
        RequestOp::Renew { item, .. } if item.ends_with('1') => {
            Err(ApiError::new(ErrorCode::Overdue, ""))
        }
        RequestOp::Renew { item, .. } if item.ends_with('2') => {
            Err(ApiError::new(ErrorCode::RenewLimit, ""))
        }
        RequestOp::Renew { item, .. } => Ok(Reply::Renewed {
            item: item.clone(),
            title: title_of(item),
            due: day(12, 23),
            renewals: 1,
        }),
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
        _ => Ok(Reply::Done),
    }
}
