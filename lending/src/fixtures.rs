//! Reference data the unit tests share: the test kit's (`rong_tests::fixtures`), with what
//! these tests rely on said here.

use chrono::NaiveDate;
use rong_protocol::delta::{Branch, Category, ClosedDay, Item, Loan, Patron};
use rong_tests::fixtures as kit;

pub use kit::{date as d, rules};

/// A branch closed on Sundays.
pub fn branch(id: &str) -> Branch {
    Branch {
        closed_weekdays: vec![7],
        ..kit::branch(id)
    }
}

/// Tết 2027 (16 to 20 February) at a branch.
pub fn tet(b: &Branch) -> Vec<ClosedDay> {
    kit::tet(&b.id)
}

/// `P0001`, whose card expires on 1 January 2027.
pub fn patron() -> Patron {
    Patron {
        expires: Some(d(2027, 1, 1)),
        ..kit::patron(kit::PATRON)
    }
}

/// An available book of `home`.
pub fn item(barcode: &str, home: &str) -> Item {
    kit::item_at(barcode, home)
}

/// Adults, `max` loans at a time.
pub fn cat(max: u32) -> Category {
    kit::adults(max)
}

/// A loan of `KT1` to `patron`.
pub fn loan(patron: &str, due: NaiveDate, renewals: u32) -> Loan {
    Loan {
        renewals,
        ..kit::loan("KT1", patron, due)
    }
}
