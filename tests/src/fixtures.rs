//! What the seeded library is known to hold (see `central seed`): patrons and items that
//! tests may use without tripping over seeded loans, blocks or PINs.

/// A patron card number from its index.
pub fn card(i: usize) -> String {
    format!("P{i:06}")
}

/// An item barcode from its index.
pub fn barcode(i: usize) -> String {
    format!("KT{i:08}")
}

/// The NFC UID the seed gives patron `i`.
pub fn uid(i: usize) -> String {
    format!(
        "04{:06X}{:06X}",
        i,
        (i as u64).wrapping_mul(2654435761) & 0xFF_FFFF
    )
}

/// The seed's six branches, in order: patron and item `i` belong to `BRANCHES[i % 6]`.
pub const BRANCHES: [&str; 6] = ["kontum", "dakto", "dakha", "ngochoi", "konplong", "sathay"];

/// Indices of adult patrons with no PIN, no block, no expiry and no seeded loans,
/// from `from` up, whose home branch does not require a PIN.
pub fn free_adults(from: usize, n: usize) -> Vec<usize> {
    (from.max(1)..)
        .filter(|i| i % 10 <= 5 && i % 5 != 0 && i % 97 != 3 && i % 89 != 7 && i % 7 != 1)
        .filter(|i| BRANCHES[i % 6] != "konplong")
        .take(n)
        .collect()
}

/// Whether the seed leaves item `i` as a lendable book with no loan.
fn is_free_book(i: usize) -> bool {
    i % 13 != 0 && i % 20 != 19 && i % 10 != 7 && i % 101 != 50 && i % 103 != 51
}

/// Indices of lendable books with no seeded loan, from `from` up.
pub fn free_books(from: usize, n: usize) -> Vec<usize> {
    (from.max(1)..)
        .filter(|i| is_free_book(*i))
        .take(n)
        .collect()
}

/// Lendable books of one branch.
pub fn free_books_of(branch: &str, from: usize, n: usize) -> Vec<usize> {
    let b = BRANCHES
        .iter()
        .position(|x| *x == branch)
        .expect("known branch");
    (from.max(1)..)
        .filter(|i| is_free_book(*i) && i % 6 == b)
        .take(n)
        .collect()
}
