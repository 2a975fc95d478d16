//! Tests of the fixed facts the demo and other crates' tests rely on.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use rong_protocol::fold::nfc;

use super::*;

/// The smallest argon2id parameters: the tests check the data, not the hash cost.
fn cheap() -> Params {
    Params::new(8, 1, 1, None).expect("8 KiB, 1 pass, 1 lane are valid argon2 params")
}

fn gen(items: usize, patrons: usize, seed: u64) -> SeedData {
    generate_with_pin_params(items, patrons, seed, cheap())
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn same_arguments_same_data_other_seed_other_names() {
    let a = gen(400, 150, 7);
    let b = gen(400, 150, 7);
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let c = gen(400, 150, 8);
    let names =
        |s: &SeedData| -> Vec<String> { s.patrons.iter().map(|p| p.patron.name.clone()).collect() };
    assert_ne!(names(&a), names(&c));
    assert_ne!(a.records[1..], c.records[1..]);
    // The fixed facts do not move with the seed.
    assert_eq!(a.branches, c.branches);
    assert_eq!(a.closed_days, c.closed_days);
    assert_eq!(a.records[0], c.records[0]);
    for (x, y) in a.items.iter().zip(&c.items) {
        assert_eq!(
            (&x.barcode, &x.item_type, x.status),
            (&y.barcode, &y.item_type, y.status)
        );
    }
}

#[test]
fn branches_categories_rules_and_holidays() {
    let s = gen(10, 10, 1);
    let ids: Vec<&str> = s.branches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        ["kontum", "dakto", "dakha", "ngochoi", "konplong", "sathay"]
    );
    assert_eq!(s.branches[0].name, "Thư viện tỉnh Kon Tum");
    assert_eq!(s.branches[1].name, "Thư viện huyện Đăk Tô");
    assert_eq!(s.branches[5].name, "Thư viện huyện Sa Thầy");
    assert_eq!(s.branches[0].closed_weekdays, [1]);
    for b in &s.branches[1..] {
        assert_eq!(b.closed_weekdays, [6, 7], "{}", b.id);
    }
    let pin: Vec<bool> = s.branches.iter().map(|b| b.require_pin).collect();
    assert_eq!(pin, [false, false, false, false, true, false]);

    let cats: Vec<(&str, &str, u32)> = s
        .categories
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.max_loans))
        .collect();
    assert_eq!(
        cats,
        [
            ("adult", "Người lớn", 5),
            ("student", "Học sinh, sinh viên", 3),
            ("child", "Thiếu nhi", 2)
        ]
    );
    let rule = |c: &str, t: &str| {
        let r = find_rule(&s.rules, c, t).unwrap();
        (r.loan_days, r.max_renewals)
    };
    assert_eq!(rule("adult", "book"), (21, 2));
    assert_eq!(rule("student", "book"), (14, 2));
    assert_eq!(rule("child", "book"), (7, 1));
    assert_eq!(rule("child", "serial"), (7, 0));
    assert_eq!(rule("adult", "reference"), (0, 0));
    assert_eq!(rule("adult", "map"), (14, 1));
    assert_eq!(s.rules.len(), 6);

    // 28 holidays for each of the six branches.
    assert_eq!(s.closed_days.len(), 6 * 28);
    let on = |b: &str, day: NaiveDate| -> Option<&str> {
        s.closed_days
            .iter()
            .find(|c| c.branch.as_str() == b && c.date == day)
            .map(|c| c.reason.as_str())
    };
    for b in ids {
        for day in 14..=22 {
            assert_eq!(on(b, d(2026, 2, day)), Some("Tết Nguyên Đán"));
        }
        for day in 4..=10 {
            assert_eq!(on(b, d(2027, 2, day)), Some("Tết Nguyên Đán"));
        }
        assert_eq!(on(b, d(2026, 2, 13)), None);
        assert_eq!(on(b, d(2027, 2, 11)), None);
        assert_eq!(on(b, d(2026, 4, 26)), Some("Giỗ Tổ Hùng Vương"));
        assert_eq!(on(b, d(2027, 4, 16)), Some("Giỗ Tổ Hùng Vương"));
        for y in [2026, 2027] {
            assert_eq!(on(b, d(y, 1, 1)), Some("Tết Dương lịch"));
            assert_eq!(on(b, d(y, 4, 30)), Some("Ngày Giải phóng miền Nam"));
            assert_eq!(on(b, d(y, 5, 1)), Some("Quốc tế Lao động"));
        }
        assert!(on(b, d(2026, 9, 1)).is_some() && on(b, d(2026, 9, 2)).is_some());
        assert!(on(b, d(2027, 9, 2)).is_some() && on(b, d(2027, 9, 3)).is_some());
        assert_eq!(on(b, d(2027, 9, 1)), None);
    }
}

#[test]
fn patrons_follow_their_index() {
    for seed in [0, 1, 42, u64::MAX] {
        let s = gen(30, 200, seed);
        assert_eq!(s.patrons.len(), 201);
        for (k, sp) in s.patrons[..200].iter().enumerate() {
            let i = k + 1;
            let p = &sp.patron;
            assert_eq!(p.card, format!("P{i:06}"));
            assert_eq!(p.branch, s.branches[i % 6].id);
            let cat = match i % 10 {
                0..=5 => "adult",
                6..=8 => "student",
                _ => "child",
            };
            assert_eq!(p.category, cat, "{}", p.card);
            let uid = format!("04{:06X}{:06X}", i, i.wrapping_mul(2654435761) & 0xFFFFFF);
            assert_eq!(p.nfc_uids, [uid]);
            assert_eq!(p.nfc_uids[0].len(), 14);
            assert_eq!(p.blocked.is_some(), i % 97 == 3, "{}", p.card);
            let expires = if i % 89 == 7 {
                d(2024, 6, 30)
            } else {
                d(2030, 12, 31)
            };
            assert_eq!(p.expires, Some(expires));
            assert_eq!(p.pin_required, i % 5 == 0);
            assert_eq!(p.has_pin, i % 5 == 0);
            assert_eq!(sp.pin_hash.is_some(), i % 5 == 0);
            assert_eq!(sp.pin, (i % 5 == 0).then(|| p.card[3..].to_owned()));
            assert!(!p.staff);
            assert!(p.name.contains(' ') && !p.name.is_empty());
        }
        let p2 = &s.patrons[1];
        assert_eq!(
            (
                p2.patron.category.as_str(),
                p2.patron.branch.as_str(),
                &p2.pin
            ),
            ("adult", "dakha", &None)
        );
        assert!(!s.loans.iter().any(|l| l.loan.patron == "P000002"));
        assert_eq!(
            s.patrons[2].patron.blocked.as_deref(),
            Some("Quá hạn trả sách nhiều lần")
        );
        assert_eq!(s.patrons[4].pin.as_deref(), Some("0005"));
        assert_eq!(s.patrons[8].patron.category, "child");
        assert_eq!(s.patrons[6].patron.expires, Some(d(2024, 6, 30)));
        assert_eq!(s.patrons[199].pin.as_deref(), Some("0200"));

        let staff = &s.patrons[200];
        assert_eq!(staff.patron.card, "S0001");
        assert_eq!(staff.patron.name, "Thủ thư Y Blông");
        assert_eq!(staff.patron.category, "adult");
        assert_eq!(staff.patron.branch.as_str(), "kontum");
        assert_eq!(staff.patron.nfc_uids, ["04AABBCCDDEE01"]);
        assert_eq!(staff.pin.as_deref(), Some("2468"));
        assert!(staff.patron.pin_required && staff.patron.staff);
        assert!(staff.patron.blocked.is_none());
        assert_eq!(s.patrons.iter().filter(|p| p.patron.staff).count(), 1);
    }
}

#[test]
fn items_follow_their_index_and_share_records() {
    for seed in [0, 3, u64::MAX] {
        let s = gen(2_000, 10, seed);
        assert_eq!(s.items.len(), 2_000);
        let by_id: BTreeMap<&str, &SeedRecord> =
            s.records.iter().map(|r| (r.id.as_str(), r)).collect();
        for (k, it) in s.items.iter().enumerate() {
            let i = k + 1;
            assert_eq!(it.barcode, format!("KT{i:08}"));
            assert_eq!(it.home_branch, s.branches[i % 6].id);
            let ty = if i % 20 == 19 {
                "reference"
            } else if i % 10 == 7 {
                "serial"
            } else {
                "book"
            };
            assert_eq!(it.item_type, ty, "{}", it.barcode);
            let status = if i % 101 == 50 {
                ItemStatus::Lost
            } else if i % 103 == 51 {
                ItemStatus::Withdrawn
            } else if i % 20 == 19 {
                ItemStatus::NotForLoan
            } else {
                ItemStatus::Available
            };
            assert_eq!(it.status, status, "{}", it.barcode);
            let rec = by_id[it.record.as_str()];
            assert_eq!(
                (&it.title, &it.author, &it.call_number),
                (&rec.title, &rec.author, &rec.call_number)
            );
        }
        for (k, rec) in s.records.iter().enumerate() {
            assert_eq!(rec.id, format!("KTR{:08}", k + 1));
            assert_eq!(rec.language, "vie");
            assert!((1985..=2026).contains(&rec.year));
            if let Some(isbn) = &rec.isbn {
                assert!(isbn.len() == 13 && isbn.starts_with("978604"), "{isbn}");
            }
            let copies: Vec<usize> = (0..s.items.len())
                .filter(|&j| s.items[j].record == rec.id)
                .collect();
            assert!((1..=3).contains(&copies.len()), "{}", rec.id);
            assert_eq!(copies[copies.len() - 1] - copies[0] + 1, copies.len());
        }
        let first = &s.records[0];
        assert_eq!(first.title, "Địa chí Kon Tum");
        assert_eq!(first.author, "Nhiều tác giả");
        assert_eq!(first.subjects, ["Địa chí", "Kon Tum"]);
        assert_eq!(s.items[0].record, "KTR00000001");
        for it in &s.items[..6] {
            assert_eq!(
                (it.item_type.as_str(), it.status),
                ("book", ItemStatus::Available)
            );
        }
        assert!(s.records.iter().any(|r| r.isbn.is_none()));
    }
}

#[test]
fn text_is_nfc_vietnamese_and_ids_are_unique() {
    let s = gen(3_000, 600, 11);
    let mut texts: Vec<&str> = Vec::new();
    texts.extend(s.branches.iter().map(|b| b.name.as_str()));
    texts.extend(s.categories.iter().map(|c| c.name.as_str()));
    texts.extend(s.closed_days.iter().map(|c| c.reason.as_str()));
    for r in &s.records {
        texts.extend([&r.title, &r.author, &r.publisher, &r.call_number].map(String::as_str));
        texts.extend(r.subjects.iter().map(String::as_str));
    }
    for it in &s.items {
        texts.extend([&it.title, &it.author, &it.call_number].map(String::as_str));
    }
    texts.extend(s.patrons.iter().map(|p| p.patron.name.as_str()));
    texts.extend(s.patrons.iter().filter_map(|p| p.patron.blocked.as_deref()));
    for t in &texts {
        assert_eq!(nfc(t), *t, "not NFC: {t:?}");
        assert!(!t.is_empty());
    }
    for r in &s.records {
        for subject in &r.subjects {
            assert!(subject.starts_with(char::is_uppercase), "{subject:?}");
        }
    }
    let has_d = |t: &str| t.contains('đ') || t.contains('Đ');
    assert!(s.records.iter().skip(1).any(|r| has_d(&r.title)));
    assert!(s.patrons.iter().any(|p| has_d(&p.patron.name)));
    // Diacritics beyond đ: stacked tone marks in titles and names.
    assert!(texts
        .iter()
        .any(|t| t.contains('ễ') || t.contains('ậ') || t.contains('ữ')));

    let unique = |v: Vec<&str>| {
        let n = v.len();
        assert_eq!(v.into_iter().collect::<HashSet<_>>().len(), n);
    };
    unique(s.patrons.iter().map(|p| p.patron.card.as_str()).collect());
    unique(
        s.patrons
            .iter()
            .flat_map(|p| &p.patron.nfc_uids)
            .map(String::as_str)
            .collect(),
    );
    unique(s.items.iter().map(|i| i.barcode.as_str()).collect());
    unique(s.records.iter().map(|r| r.id.as_str()).collect());
    for code in s
        .patrons
        .iter()
        .map(|p| &p.patron.card)
        .chain(s.items.iter().map(|i| &i.barcode))
    {
        assert!(rong_protocol::barcode::is_valid(code), "{code}");
    }
}

#[test]
fn loans_respect_limits_and_touch_only_allowed_items() {
    let s = gen(20_000, 3_000, 5);
    let today = d(2026, 11, 25);
    assert!(s.loans.len() > 300, "{} loans", s.loans.len());
    let mut per_patron: BTreeMap<&str, u32> = BTreeMap::new();
    let mut seen = HashSet::new();
    for l in &s.loans {
        let i: usize = l.loan.patron[1..].parse().unwrap();
        let p = &s.patrons[i - 1].patron;
        assert_eq!(i % 7, 1);
        assert!(p.blocked.is_none() && !p.staff);
        assert!(p.expires > Some(today));
        let j: usize = l.loan.item[2..].parse().unwrap();
        let item = &s.items[j - 1];
        assert_eq!(j % 13, 0);
        assert_eq!(
            (item.item_type.as_str(), item.status),
            ("book", ItemStatus::Available)
        );
        assert!(seen.insert(&l.loan.item), "{} lent twice", l.loan.item);
        *per_patron.entry(&l.loan.patron).or_default() += 1;

        assert_eq!(l.branch, p.branch);
        assert_eq!(l.loan.renewals, 0);
        assert!((d(2026, 10, 1)..=d(2026, 11, 24)).contains(&l.loaned_on));
        let branch = s.branches.iter().find(|b| b.id == l.branch).unwrap();
        assert!(is_open(branch, &s.closed_days, l.loaned_on));
        let days = find_rule(&s.rules, &p.category, "book").unwrap().loan_days;
        assert_eq!(
            l.loan.due,
            due_date(branch, &s.closed_days, l.loaned_on, days)
        );
        assert!(is_open(branch, &s.closed_days, l.loan.due));
    }
    for (card, n) in per_patron {
        let i: usize = card[1..].parse().unwrap();
        let cat = &s.patrons[i - 1].patron.category;
        let max = s
            .categories
            .iter()
            .find(|c| &c.id == cat)
            .unwrap()
            .max_loans;
        assert!((1..=2.min(max)).contains(&n), "{card} has {n}");
    }
    assert!(s.loans.iter().any(|l| l.loan.due < today), "none overdue");
    assert!(s.loans.iter().any(|l| l.loan.due >= today), "all overdue");
    for barcode in ["KT00000001", "KT00000006"] {
        assert!(!s.loans.iter().any(|l| l.loan.item == barcode));
    }
}

#[test]
fn empty_library_still_has_reference_data_and_staff() {
    let s = gen(0, 0, 9);
    assert!(s.items.is_empty() && s.records.is_empty() && s.loans.is_empty());
    assert_eq!(s.patrons.len(), 1);
    assert_eq!(s.patrons[0].patron.card, "S0001");
    assert_eq!(
        (s.branches.len(), s.categories.len(), s.rules.len()),
        (6, 3, 6)
    );
    let one = gen(1, 1, 9);
    assert_eq!(one.records.len(), 1);
    assert_eq!(one.items[0].title, "Địa chí Kon Tum");
}

#[test]
fn pins_use_default_argon2id_and_verify() {
    let s = generate(5, 10, 3);
    let verify = |sp: &SeedPatron, pin: &str| {
        let phc = sp.pin_hash.as_deref().unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        Argon2::default()
            .verify_password(pin.as_bytes(), &PasswordHash::new(phc).unwrap())
            .is_ok()
    };
    assert!(verify(&s.patrons[4], "0005"));
    assert!(!verify(&s.patrons[4], "0010"));
    assert!(verify(&s.patrons[10], "2468"));
    assert_ne!(s.patrons[4].pin_hash, s.patrons[9].pin_hash);
}

#[test]
fn full_size_library() {
    // Release builds run exactly `generate`; debug builds would spend over 20 minutes in
    // unoptimised argon2 alone, so they take cheap PIN parameters and test the rest.
    let started = Instant::now();
    let s = if cfg!(debug_assertions) {
        gen(300_000, 50_000, 1)
    } else {
        generate(300_000, 50_000, 1)
    };
    let took = started.elapsed();
    eprintln!(
        "generate(300_000, 50_000, 1) took {took:?} (debug: {})",
        cfg!(debug_assertions)
    );
    assert_eq!(s.items.len(), 300_000);
    assert_eq!(s.patrons.len(), 50_001);
    assert!(s.records.len() > 100_000 && s.records.len() < 300_000);
    let with_pin: HashSet<&str> = s
        .patrons
        .iter()
        .filter_map(|p| p.pin_hash.as_deref())
        .collect();
    // Every distinct PIN 0000..9995 in steps of 5, plus the staff PIN.
    assert_eq!(with_pin.len(), 2_001);
    assert!(s.loans.len() > 7_000);
    let lent: HashSet<&str> = s.loans.iter().map(|l| l.loan.item.as_str()).collect();
    assert_eq!(lent.len(), s.loans.len());
}
