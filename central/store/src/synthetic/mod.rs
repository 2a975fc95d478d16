//! The deterministic synthetic library behind `central seed`: the Kon Tum branches, patron
//! categories, loan rules and holidays, a catalogue of Vietnamese records and items, patrons
//! and some loans already out.
//!
//! Output depends only on the arguments: all randomness comes from `ChaCha8Rng` seeded with
//! `seed`, never from the clock or the OS. The fixed facts (ids, which indices are blocked,
//! expired, reference-only…) follow from the index alone, so tests can rely on them for any
//! seed; only names, titles and the choice of loans change with the seed.

mod words;

use std::collections::{BTreeMap, BTreeSet};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rong_lending::{due_date, find_rule, is_open};
use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, Loan, LoanRule, Patron};
use rong_protocol::ids::BranchId;

/// A bibliographic record of the synthetic library.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRecord {
    /// MARC 001-style id, such as "KTR00000001".
    pub id: String,
    /// Title, NFC.
    pub title: String,
    /// Main author, NFC.
    pub author: String,
    /// Subject headings, NFC.
    pub subjects: Vec<String>,
    /// Publisher.
    pub publisher: String,
    /// Year of publication.
    pub year: u16,
    /// ISBN-13, digits only, when the book has one.
    pub isbn: Option<String>,
    /// DDC-like call number, such as "959.761 Đ301C".
    pub call_number: String,
    /// MARC language code: "vie".
    pub language: String,
}

/// A patron plus, for the demo printout only, the plain PIN it was given (never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct SeedPatron {
    /// The patron as central stores it.
    pub patron: Patron,
    /// The plain PIN, if the patron has one.
    pub pin: Option<String>,
    /// The PIN's argon2id hash, which central stores.
    pub pin_hash: Option<String>,
}

/// A loan that already exists when the library is seeded.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedLoan {
    /// The loan.
    pub loan: Loan,
    /// The branch that lent it: the patron's home branch.
    pub branch: BranchId,
    /// The day it was lent.
    pub loaned_on: NaiveDate,
}

/// Everything `central seed` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedData {
    /// The six branches, provincial library first.
    pub branches: Vec<Branch>,
    /// Patron categories.
    pub categories: Vec<Category>,
    /// Loan rules.
    pub rules: Vec<LoanRule>,
    /// Public holidays of 2026 and 2027, for every branch.
    pub closed_days: Vec<ClosedDay>,
    /// Bibliographic records.
    pub records: Vec<SeedRecord>,
    /// Items `KT00000001`…, in order.
    pub items: Vec<Item>,
    /// Patrons `P000001`…, in order, then the staff card `S0001`.
    pub patrons: Vec<SeedPatron>,
    /// Loans already out.
    pub loans: Vec<SeedLoan>,
}

/// Ids and names of the branches; patron and item `i` belong to `BRANCHES[i % 6]`.
const BRANCHES: [(&str, &str); 6] = [
    ("kontum", "Thư viện tỉnh Kon Tum"),
    ("dakto", "Thư viện huyện Đăk Tô"),
    ("dakha", "Thư viện huyện Đăk Hà"),
    ("ngochoi", "Thư viện huyện Ngọc Hồi"),
    ("konplong", "Thư viện huyện Kon Plông"),
    ("sathay", "Thư viện huyện Sa Thầy"),
];

/// Public holidays the libraries close for: reason, first day, last day.
type Ymd = (i32, u32, u32);
const HOLIDAYS: [(&str, Ymd, Ymd); 12] = [
    ("Tết Dương lịch", (2026, 1, 1), (2026, 1, 1)),
    ("Tết Nguyên Đán", (2026, 2, 14), (2026, 2, 22)),
    ("Giỗ Tổ Hùng Vương", (2026, 4, 26), (2026, 4, 26)),
    ("Ngày Giải phóng miền Nam", (2026, 4, 30), (2026, 4, 30)),
    ("Quốc tế Lao động", (2026, 5, 1), (2026, 5, 1)),
    ("Quốc khánh", (2026, 9, 1), (2026, 9, 2)),
    ("Tết Dương lịch", (2027, 1, 1), (2027, 1, 1)),
    ("Tết Nguyên Đán", (2027, 2, 4), (2027, 2, 10)),
    ("Giỗ Tổ Hùng Vương", (2027, 4, 16), (2027, 4, 16)),
    ("Ngày Giải phóng miền Nam", (2027, 4, 30), (2027, 4, 30)),
    ("Quốc tế Lao động", (2027, 5, 1), (2027, 5, 1)),
    ("Quốc khánh", (2027, 9, 2), (2027, 9, 3)),
];

/// Seeded loans were made between these days, so some are overdue on 2026-11-25.
const LOANED_FROM: Ymd = (2026, 10, 1);
const LOANED_TO: Ymd = (2026, 11, 24);

/// The staff card every seeded library has.
const STAFF_CARD: &str = "S0001";
const STAFF_PIN: &str = "2468";

fn ymd((y, m, d): Ymd) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("the seed's fixed calendar dates are valid")
}

fn branches() -> Vec<Branch> {
    BRANCHES
        .iter()
        .map(|(id, name)| Branch {
            id: BranchId::new(*id).expect("the seed's branch ids are valid slugs"),
            name: (*name).to_owned(),
            closed_weekdays: if *id == "kontum" { vec![1] } else { vec![6, 7] },
            require_pin: *id == "konplong",
        })
        .collect()
}

fn categories() -> Vec<Category> {
    [
        ("adult", "Người lớn", 5),
        ("student", "Học sinh, sinh viên", 3),
        ("child", "Thiếu nhi", 2),
    ]
    .into_iter()
    .map(|(id, name, max_loans)| Category {
        id: id.into(),
        name: name.into(),
        max_loans,
    })
    .collect()
}

fn rules() -> Vec<LoanRule> {
    [
        ("adult", "book", 21, 2),
        ("student", "book", 14, 2),
        ("child", "book", 7, 1),
        ("*", "serial", 7, 0),
        ("*", "reference", 0, 0),
        ("*", "*", 14, 1),
    ]
    .into_iter()
    .map(|(category, item_type, loan_days, max_renewals)| LoanRule {
        category: category.into(),
        item_type: item_type.into(),
        loan_days,
        max_renewals,
    })
    .collect()
}

fn closed_days(branches: &[Branch]) -> Vec<ClosedDay> {
    let mut out = Vec::new();
    for b in branches {
        for (reason, first, last) in HOLIDAYS {
            let mut day = ymd(first);
            while day <= ymd(last) {
                out.push(ClosedDay {
                    branch: b.id.clone(),
                    date: day,
                    reason: reason.to_owned(),
                });
                day += Duration::days(1);
            }
        }
    }
    out
}

/// Category of patron `i`: six in ten adults, three students, one child.
fn patron_category(i: usize) -> &'static str {
    match i % 10 {
        0..=5 => "adult",
        6..=8 => "student",
        _ => "child",
    }
}

fn patron_card(i: usize) -> String {
    format!("P{i:06}")
}

/// The NFC UID of patron `i`'s card: 7 bytes, NXP-style `04` prefix, unique per index.
fn patron_uid(i: usize) -> String {
    format!(
        "04{:06X}{:06X}",
        i,
        i.wrapping_mul(2_654_435_761) & 0xFF_FFFF
    )
}

/// Patron `i`'s PIN, if it has one: the last four digits of the card.
fn patron_pin(i: usize) -> Option<String> {
    (i % 5 == 0).then(|| format!("{:04}", i % 10_000))
}

fn patron_blocked(i: usize) -> bool {
    i % 97 == 3
}

fn patron_expired(i: usize) -> bool {
    i % 89 == 7
}

fn item_type(i: usize) -> &'static str {
    if i % 20 == 19 {
        "reference"
    } else if i % 10 == 7 {
        "serial"
    } else {
        "book"
    }
}

/// Where a copy stands: local history, periodicals and reference have rooms of their own;
/// the rest stand in the open stacks by the first digit of their class.
fn shelf(item_type: &str, call_number: &str) -> String {
    if call_number.starts_with("959.76") {
        "Phòng địa chí".into()
    } else if item_type == "serial" {
        "Phòng báo, tạp chí".into()
    } else if item_type == "reference" {
        "Phòng đọc tra cứu".into()
    } else {
        let class = call_number
            .chars()
            .next()
            .filter(char::is_ascii_digit)
            .unwrap_or('0');
        format!("Kho mở, kệ {class}00")
    }
}

fn item_status(i: usize) -> ItemStatus {
    if i % 101 == 50 {
        ItemStatus::Lost
    } else if i % 103 == 51 {
        ItemStatus::Withdrawn
    } else if i % 20 == 19 {
        ItemStatus::NotForLoan
    } else {
        ItemStatus::Available
    }
}

/// Hashes each distinct PIN once, spread over the machine's cores.
///
/// SEED-ONLY SHORTCUT: every hash uses the same salt, derived from `seed`, so the output is
/// byte-identical from run to run and equal PINs share one hash. Real PINs set at central get
/// a fresh random salt each; never reuse this for them.
fn hash_pins(pins: &BTreeSet<String>, seed: u64, params: &Params) -> BTreeMap<String, String> {
    let mut salt_rng = ChaCha8Rng::seed_from_u64(seed);
    // A stream of its own, so the salt does not shift the names and titles.
    salt_rng.set_stream(1);
    let mut salt_bytes = [0u8; 16];
    salt_rng.fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt length");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let pins: Vec<&String> = pins.iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = pins.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = pins
            .chunks(chunk)
            .map(|part| {
                let (argon, salt) = (&argon, &salt);
                scope.spawn(move || {
                    part.iter()
                        .map(|pin| {
                            let phc = argon
                                .hash_password(pin.as_bytes(), salt)
                                .expect("argon2id with valid params and salt cannot fail")
                                .to_string();
                            ((*pin).clone(), phc)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a PIN hashing thread panicked"))
            .collect()
    })
}

/// Records and items: each record gets 1 to 3 consecutive copies.
fn catalogue(rng: &mut ChaCha8Rng, n: usize, branches: &[Branch]) -> (Vec<SeedRecord>, Vec<Item>) {
    let mut records: Vec<SeedRecord> = Vec::with_capacity(n / 2 + 1);
    let mut items = Vec::with_capacity(n);
    let mut copies_left = 0u32;
    for i in 1..=n {
        if copies_left == 0 {
            let index = records.len() + 1;
            records.push(if index == 1 {
                words::first_record()
            } else {
                words::record(rng, index)
            });
            copies_left = rng.gen_range(1..=3u32);
        }
        copies_left -= 1;
        let rec = &records[records.len() - 1];
        items.push(Item {
            barcode: format!("KT{i:08}"),
            record: rec.id.clone(),
            title: rec.title.clone(),
            author: rec.author.clone(),
            call_number: rec.call_number.clone(),
            item_type: item_type(i).to_owned(),
            shelf: shelf(item_type(i), &rec.call_number),
            home_branch: branches[i % branches.len()].id.clone(),
            status: item_status(i),
        });
    }
    (records, items)
}

/// Patrons `P000001`… then the staff card.
fn patrons(
    rng: &mut ChaCha8Rng,
    m: usize,
    seed: u64,
    params: &Params,
    branches: &[Branch],
) -> Vec<SeedPatron> {
    let mut distinct: BTreeSet<String> = (1..=m).filter_map(patron_pin).collect();
    distinct.insert(STAFF_PIN.to_owned());
    let hashes = hash_pins(&distinct, seed, params);
    let mut out = Vec::with_capacity(m + 1);
    for i in 1..=m {
        let pin = patron_pin(i);
        out.push(SeedPatron {
            patron: Patron {
                card: patron_card(i),
                nfc_uids: vec![patron_uid(i)],
                name: words::person_name(rng),
                category: patron_category(i).to_owned(),
                branch: branches[i % branches.len()].id.clone(),
                blocked: patron_blocked(i).then(|| "Quá hạn trả sách nhiều lần".to_owned()),
                expires: Some(if patron_expired(i) {
                    ymd((2024, 6, 30))
                } else {
                    ymd((2030, 12, 31))
                }),
                has_pin: pin.is_some(),
                pin_required: pin.is_some(),
                staff: false,
            },
            pin_hash: pin.as_ref().and_then(|p| hashes.get(p).cloned()),
            pin,
        });
    }
    out.push(SeedPatron {
        patron: Patron {
            card: STAFF_CARD.to_owned(),
            nfc_uids: vec!["04AABBCCDDEE01".to_owned()],
            name: "Thủ thư Y Blông".to_owned(),
            category: "adult".to_owned(),
            branch: branches[0].id.clone(),
            blocked: None,
            expires: Some(ymd((2030, 12, 31))),
            has_pin: true,
            pin_required: true,
            staff: true,
        },
        pin_hash: hashes.get(STAFF_PIN).cloned(),
        pin: Some(STAFF_PIN.to_owned()),
    });
    out
}

/// Loans already out: patrons `i % 7 == 1` in good standing borrow 1 or 2 of the available
/// books `i % 13 == 0`, each at most once, lent on an open day of their home branch.
fn loans(rng: &mut ChaCha8Rng, data: &SeedData, m: usize) -> Vec<SeedLoan> {
    let mut pool: Vec<&Item> = data
        .items
        .iter()
        .enumerate()
        .filter(|(k, it)| {
            (k + 1) % 13 == 0 && it.status == ItemStatus::Available && it.item_type == "book"
        })
        .map(|(_, it)| it)
        .collect();
    pool.shuffle(rng);
    let mut pool = pool.into_iter();
    let open_days: Vec<Vec<NaiveDate>> = data
        .branches
        .iter()
        .map(|b| {
            let mut days = Vec::new();
            let mut day = ymd(LOANED_FROM);
            while day <= ymd(LOANED_TO) {
                if is_open(b, &data.closed_days, day) {
                    days.push(day);
                }
                day += Duration::days(1);
            }
            days
        })
        .collect();
    let mut out = Vec::new();
    for (k, sp) in data.patrons.iter().take(m).enumerate() {
        let i = k + 1;
        if i % 7 != 1 || patron_blocked(i) || patron_expired(i) || sp.patron.staff {
            continue;
        }
        let p = &sp.patron;
        let max = data
            .categories
            .iter()
            .find(|c| c.id == p.category)
            .map_or(0, |c| c.max_loans);
        let want = rng.gen_range(1..=2u32).min(max);
        let b = i % data.branches.len();
        for _ in 0..want {
            let Some(item) = pool.next() else {
                return out;
            };
            let Some(&loaned_on) = open_days[b].choose(rng) else {
                break;
            };
            let days =
                find_rule(&data.rules, &p.category, &item.item_type).map_or(14, |r| r.loan_days);
            out.push(SeedLoan {
                loan: Loan {
                    item: item.barcode.clone(),
                    patron: p.card.clone(),
                    due: due_date(&data.branches[b], &data.closed_days, loaned_on, days),
                    renewals: 0,
                },
                branch: data.branches[b].id.clone(),
                loaned_on,
            });
        }
    }
    out
}

/// Generates the library: same arguments, same data, byte for byte.
///
/// PINs are hashed with argon2id's default parameters, like real PINs. That costs about
/// 60 ms of CPU per distinct PIN in a release build, and there are up to 2,001 distinct
/// PINs; debug builds are some 20 times slower unless argon2 is optimised in the dev profile.
pub fn generate(items: usize, patrons: usize, seed: u64) -> SeedData {
    generate_with_pin_params(items, patrons, seed, Params::default())
}

/// [`generate`] with other argon2id parameters for the PIN hashes: everything else is the
/// same. Lets tests in debug builds use cheap parameters; the PHC strings record them, so
/// verification works either way.
pub fn generate_with_pin_params(
    items: usize,
    patrons: usize,
    seed: u64,
    pin_params: Params,
) -> SeedData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let branches = branches();
    let (records, item_list) = catalogue(&mut rng, items, &branches);
    let patron_list = self::patrons(&mut rng, patrons, seed, &pin_params, &branches);
    let mut data = SeedData {
        closed_days: closed_days(&branches),
        categories: categories(),
        rules: rules(),
        branches,
        records,
        items: item_list,
        patrons: patron_list,
        loans: Vec::new(),
    };
    data.loans = loans(&mut rng, &data, patrons);
    tracing::debug!(
        records = data.records.len(),
        items = data.items.len(),
        patrons = data.patrons.len(),
        loans = data.loans.len(),
        "seed data generated"
    );
    data
}

#[cfg(test)]
mod tests;
