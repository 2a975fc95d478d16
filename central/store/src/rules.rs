//! Reader categories and the loan-rule matrix (category × item type), as administrators keep
//! them. Every change goes to the devices by delta. A matrix is checked whole before it is
//! saved: every number in range, and a rule for every category and item type (the `*` × `*`
//! rule catches what no other does), so that no loan is ever decided without one.

use std::collections::{BTreeMap, BTreeSet};

use rong_protocol::delta::{Category, LoanRule, Op};
use rusqlite::{params, Connection};

use crate::changes::{append, Applied};
use crate::network::FieldError;
use crate::reference::put;
use crate::{Store, StoreError};

/// The longest loan period, in days.
pub const MAX_LOAN_DAYS: u32 = 365;
/// The most renewals of one loan.
pub const MAX_RENEWALS: u32 = 20;
/// The most loans at once a category may allow.
pub const MAX_LOANS: u32 = 100;
/// The longest membership, in months.
pub const MAX_MEMBERSHIP_MONTHS: u32 = 120;

/// A reader category with its membership length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRow {
    /// What the devices get: id, name, most loans at once.
    pub category: Category,
    /// How long a membership lasts, in months.
    pub membership_months: u32,
}

/// Every category, by id.
pub fn categories(c: &Connection) -> Result<Vec<CategoryRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, max_loans, membership_months FROM categories ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CategoryRow {
            category: Category {
                id: r.get(0)?,
                name: r.get(1)?,
                max_loans: r.get(2)?,
            },
            membership_months: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The item types the catalogue's copies and the rules name, by code.
pub fn item_types(c: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT item_type FROM items UNION SELECT item_type FROM loan_rules WHERE item_type != '*' \
         ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn err(field: String, en: String, vi: String) -> FieldError {
    // Field names of a matrix cell are built at run time; the error names the cell by its
    // text.
    FieldError {
        field: "matrix",
        en: format!("{field}: {en}"),
        vi: format!("{field}: {vi}"),
    }
}

/// Checks a category as typed.
pub fn check_category(
    id: &str,
    name: &str,
    max_loans: &str,
    months: &str,
) -> Result<CategoryRow, Vec<FieldError>> {
    let mut errors = Vec::new();
    let id = id.trim();
    let slug = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !slug {
        errors.push(FieldError {
            field: "id",
            en: "The code has 1 to 32 lower-case letters, digits, dashes or underscores, such as child".into(),
            vi: "Mã có 1 đến 32 chữ thường không dấu, chữ số, gạch ngang hoặc gạch dưới, ví dụ child".into(),
        });
    }
    let name = crate::network::check_name("name", name, false).map_err(|e| errors.push(e));
    let number =
        |field: &'static str, text: &str, max: u32, errors: &mut Vec<FieldError>| match text
            .trim()
            .parse::<u32>(
        ) {
            Ok(n) if n <= max => Some(n),
            _ => {
                errors.push(FieldError {
                    field,
                    en: format!("A whole number from 0 to {max}"),
                    vi: format!("Một số nguyên từ 0 đến {max}"),
                });
                None
            }
        };
    let max_loans = number("max_loans", max_loans, MAX_LOANS, &mut errors);
    let months = number(
        "membership_months",
        months,
        MAX_MEMBERSHIP_MONTHS,
        &mut errors,
    );
    if months == Some(0) {
        errors.push(FieldError {
            field: "membership_months",
            en: "A membership lasts at least a month".into(),
            vi: "Thẻ bạn đọc có hạn ít nhất một tháng".into(),
        });
    }
    match (name, max_loans, months, errors.is_empty()) {
        (Ok(name), Some(max_loans), Some(membership_months), true) => Ok(CategoryRow {
            category: Category {
                id: id.to_owned(),
                name,
                max_loans,
            },
            membership_months,
        }),
        _ => Err(errors),
    }
}

/// One cell of the matrix as typed: the loan period (empty: no rule of its own, a wider
/// rule applies; 0: not for loan, reading room only) and the renewals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellInput {
    /// Days, as typed.
    pub days: String,
    /// Renewals, as typed.
    pub renewals: String,
}

/// Checks a whole matrix, keyed by (category, item type) with `*` for any.
pub fn check_matrix(
    cells: &BTreeMap<(String, String), CellInput>,
) -> Result<Vec<LoanRule>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for ((category, item_type), cell) in cells {
        if cell.days.trim().is_empty() && cell.renewals.trim().is_empty() {
            continue;
        }
        let name = format!("{category} × {item_type}");
        let days = cell
            .days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| *d <= MAX_LOAN_DAYS);
        let renewals = if cell.renewals.trim().is_empty() {
            Some(0)
        } else {
            cell.renewals
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|r| *r <= MAX_RENEWALS)
        };
        match (days, renewals) {
            (Some(loan_days), Some(max_renewals)) => rules.push(LoanRule {
                category: category.clone(),
                item_type: item_type.clone(),
                loan_days,
                max_renewals,
            }),
            (None, _) => errors.push(err(
                name,
                format!("the loan period is a number of days from 0 (reading room only) to {MAX_LOAN_DAYS}"),
                format!("thời hạn mượn là số ngày từ 0 (chỉ đọc tại chỗ) đến {MAX_LOAN_DAYS}"),
            )),
            (_, None) => errors.push(err(
                name,
                format!("renewals are a number from 0 to {MAX_RENEWALS}"),
                format!("số lần gia hạn là số từ 0 đến {MAX_RENEWALS}"),
            )),
        }
    }
    if errors.is_empty()
        && !rules
            .iter()
            .any(|r| r.category == "*" && r.item_type == "*")
    {
        errors.push(FieldError {
            field: "matrix",
            en: "Give the rule for any category and any item type (* × *): it decides every loan no other rule covers".into(),
            vi: "Vui lòng đặt quy định cho mọi loại bạn đọc và mọi loại tài liệu (* × *): quy định này áp dụng khi không có quy định riêng".into(),
        });
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

impl Store {
    /// Adds (`create`: a taken id is a conflict) or changes a category.
    pub fn save_category(
        &mut self,
        row: &CategoryRow,
        create: bool,
    ) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let exists: i64 = tx.query_row(
            "SELECT count(*) FROM categories WHERE id = ?1",
            [&row.category.id],
            |r| r.get(0),
        )?;
        if create && exists > 0 {
            return Err(StoreError::Conflict(format!(
                "a category {} exists already",
                row.category.id
            )));
        }
        if !create && exists == 0 {
            return Err(StoreError::NotFound(format!(
                "category {}",
                row.category.id
            )));
        }
        let mut applied = Applied::default();
        put(&tx, Op::PutCategory(row.category.clone()), &mut applied)?;
        tx.execute(
            "UPDATE categories SET membership_months = ?2 WHERE id = ?1",
            params![row.category.id, row.membership_months],
        )?;
        tx.commit()?;
        Ok(applied)
    }

    /// Makes the matrix exactly `rules`: rules that differ are put, rules no longer there
    /// removed; unchanged ones send nothing.
    pub fn save_matrix(&mut self, rules: &[LoanRule]) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let old = crate::calendar::loan_rules(&tx)?;
        let mut applied = Applied::default();
        let keep: BTreeSet<(&str, &str)> = rules
            .iter()
            .map(|r| (r.category.as_str(), r.item_type.as_str()))
            .collect();
        for r in &old {
            if !keep.contains(&(r.category.as_str(), r.item_type.as_str())) {
                tx.execute(
                    "DELETE FROM loan_rules WHERE category = ?1 AND item_type = ?2",
                    params![r.category, r.item_type],
                )?;
                append(
                    &tx,
                    Op::DelRule {
                        category: r.category.clone(),
                        item_type: r.item_type.clone(),
                    },
                    &mut applied,
                )?;
            }
        }
        for r in rules {
            if !old.contains(r) {
                put(&tx, Op::PutRule(r.clone()), &mut applied)?;
            }
        }
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(days: &str, renewals: &str) -> CellInput {
        CellInput {
            days: days.into(),
            renewals: renewals.into(),
        }
    }

    fn key(c: &str, t: &str) -> (String, String) {
        (c.into(), t.into())
    }

    #[test]
    fn a_matrix_with_a_hole_or_a_bad_number_is_refused_whole() {
        let mut cells = BTreeMap::new();
        cells.insert(key("child", "BOOK"), cell("7", "1"));
        let hole = check_matrix(&cells).unwrap_err();
        assert!(hole[0].en.contains("* × *"), "{}", hole[0].en);
        cells.insert(key("*", "*"), cell("14", ""));
        cells.insert(key("adult", "RARE"), cell("0", "0"));
        cells.insert(key("adult", "BOOK"), cell("", ""));
        let rules = check_matrix(&cells).unwrap();
        assert_eq!(rules.len(), 3, "an empty cell has no rule of its own");
        assert!(rules.contains(&LoanRule {
            category: "*".into(),
            item_type: "*".into(),
            loan_days: 14,
            max_renewals: 0,
        }));
        cells.insert(key("student", "BOOK"), cell("bốn", "1"));
        cells.insert(key("staff", "BOOK"), cell("30", "99"));
        let bad = check_matrix(&cells).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert!(bad
            .iter()
            .any(|e| e.vi.starts_with("student × BOOK: thời hạn")));
        assert!(bad
            .iter()
            .any(|e| e.en.starts_with("staff × BOOK: renewals")));
    }

    #[test]
    fn categories_and_the_matrix_are_saved_with_their_deltas() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let bad = check_category("Thiếu nhi", "", "x", "0").unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["id", "name", "max_loans", "membership_months"]);
        let child = check_category("child", "Thiếu nhi", "3", "12").unwrap();
        assert_eq!(s.save_category(&child, true).unwrap().ops.len(), 1);
        assert!(matches!(
            s.save_category(&child, true),
            Err(StoreError::Conflict(_))
        ));
        let longer = CategoryRow {
            membership_months: 24,
            ..child.clone()
        };
        s.save_category(&longer, false).unwrap();
        assert_eq!(categories(&s.conn).unwrap(), vec![longer]);

        let rule = |c: &str, t: &str, d| LoanRule {
            category: c.into(),
            item_type: t.into(),
            loan_days: d,
            max_renewals: 1,
        };
        let applied = s
            .save_matrix(&[rule("*", "*", 14), rule("child", "BOOK", 7)])
            .unwrap();
        assert_eq!(applied.ops.len(), 2);
        let applied = s
            .save_matrix(&[rule("*", "*", 14), rule("child", "RARE", 0)])
            .unwrap();
        assert!(
            matches!(applied.ops.as_slice(), [Op::DelRule { item_type, .. }, Op::PutRule(_)] if item_type == "BOOK"),
            "{:?}",
            applied.ops
        );
        assert_eq!(item_types(&s.conn).unwrap(), vec!["RARE".to_owned()]);
    }
}
