//! Reference data the unit tests share: a branch, a patron, items and loan rules.

use chrono::NaiveDate;
use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, Loan, LoanRule, Patron};
use rong_protocol::BranchId;

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A branch closed on Sundays.
pub fn branch(id: &str) -> Branch {
    Branch {
        id: BranchId::new(id).unwrap(),
        name: format!("Thư viện {id}"),
        closed_weekdays: vec![7],
        require_pin: false,
    }
}

/// Tết 2027 (16 to 20 February) at a branch.
pub fn tet(b: &Branch) -> Vec<ClosedDay> {
    (16..=20)
        .map(|day| ClosedDay {
            branch: b.id.clone(),
            date: d(2027, 2, day),
            reason: "Tết Nguyên Đán".into(),
        })
        .collect()
}

pub fn patron() -> Patron {
    Patron {
        card: "P0001".into(),
        nfc_uids: vec!["04A22B1A".into()],
        name: "Nguyễn Văn Đức".into(),
        category: "adult".into(),
        branch: BranchId::new("kontum").unwrap(),
        blocked: None,
        expires: Some(d(2027, 1, 1)),
        pin_hash: None,
        pin_required: false,
        staff: false,
    }
}

pub fn item(barcode: &str, home: &str) -> Item {
    Item {
        barcode: barcode.into(),
        record: "R1".into(),
        title: "Địa chí Kon Tum".into(),
        author: String::new(),
        call_number: String::new(),
        item_type: "book".into(),
        shelf: String::new(),
        home_branch: BranchId::new(home).unwrap(),
        status: ItemStatus::Available,
    }
}

/// 14 days and two renewals for anything, reference works not for loan.
pub fn rules() -> Vec<LoanRule> {
    vec![
        LoanRule {
            category: "*".into(),
            item_type: "*".into(),
            loan_days: 14,
            max_renewals: 2,
        },
        LoanRule {
            category: "*".into(),
            item_type: "reference".into(),
            loan_days: 0,
            max_renewals: 0,
        },
    ]
}

pub fn cat(max: u32) -> Category {
    Category {
        id: "adult".into(),
        name: "Người lớn".into(),
        max_loans: max,
    }
}

pub fn loan(patron: &str, due: NaiveDate, renewals: u32) -> Loan {
    Loan {
        item: "KT1".into(),
        patron: patron.into(),
        due,
        renewals,
    }
}
