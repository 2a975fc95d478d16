//! Word lists and builders for the synthetic catalogue and patron names.
//!
//! All literals are Vietnamese in NFC with full diacritics; built strings pass through
//! [`nfc`] anyway so a list edited in an NFD editor cannot leak decomposed text.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rong_protocol::fold::{fold, nfc};

use super::SeedRecord;

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương", "Đoàn", "Lương",
];
const MIDDLE_MALE: &[&str] = &["Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thanh", "Xuân"];
const MIDDLE_FEMALE: &[&str] = &["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Hồng", "Mỹ"];
const GIVEN_MALE: &[&str] = &[
    "Anh", "Bảo", "Cường", "Dũng", "Đạt", "Hùng", "Hải", "Khoa", "Long", "Nam", "Phúc", "Quân",
    "Sơn", "Tài", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Khải",
];
const GIVEN_FEMALE: &[&str] = &[
    "Hà", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung", "Oanh", "Phương", "Quyên",
    "Thảo", "Thủy", "Trang", "Tuyết", "Vân", "Yến", "Diệp", "Đào",
];
/// Given names among the Ba Na, Xơ Đăng, Giẻ Triêng and Gia Rai peoples of Kon Tum; men
/// are called "A …", women "Y …".
const ETHNIC_MALE: &[&str] = &[
    "Thút", "Sang", "Khanh", "Đương", "Dền", "Blếp", "Hmưu", "Pếp", "Kâm", "Nhót", "Brưn",
];
const ETHNIC_FEMALE: &[&str] = &[
    "Blông", "Nhi", "Hằng", "Đoan", "Phi", "Xuân", "Mlô", "Hiên", "Ngọc", "Rin", "Pla",
];
/// Gia Rai family names, written before the given name.
const ETHNIC_FAMILY: &[&str] = &["Rơ Chăm", "Ksor", "Siu", "Rmah", "Nay", "Kpă", "Rơ Lan"];

#[rustfmt::skip]
const PLACES: &[&str] = &[
    "Kon Tum", "Đăk Tô", "Đăk Hà", "Ngọc Hồi", "Kon Plông", "Sa Thầy", "Đăk Glei", "Tu Mơ Rông",
    "Kon Rẫy", "Măng Đen", "Bắc Tây Nguyên", "Tây Nguyên",
];
#[rustfmt::skip]
const PEOPLES: &[&str] = &[
    "Ba Na", "Xơ Đăng", "Giẻ Triêng", "Gia Rai", "Brâu", "Rơ Măm",
];
#[rustfmt::skip]
const FESTIVALS: &[&str] = &[
    "mừng lúa mới", "cúng máng nước", "mừng nhà rông mới", "ăn cơm mới", "cầu mưa",
];
const RIVERS: &[&str] = &["Đăk Bla", "Pô Kô", "Sê San", "Đăk Psi"];
const MOUNTAINS: &[&str] = &["Ngọc Linh", "Chư Mom Ray", "Ngọc Rinh Rua", "Măng Đen"];
#[rustfmt::skip]
const CROPS: &[&str] = &[
    "cà phê", "hồ tiêu", "cao su", "sâm Ngọc Linh", "sắn", "lúa nước", "chanh dây",
    "bời lời đỏ", "đậu tương", "rau an toàn", "mắc ca",
];
#[rustfmt::skip]
const ANIMALS: &[&str] = &[
    "bò thịt", "dê", "lợn rừng lai", "cá nước ngọt", "gà thả vườn", "ong mật",
];
#[rustfmt::skip]
const KID_ANIMALS: &[&str] = &[
    "voi con", "sóc nhỏ", "thỏ trắng", "gấu đen", "chim họa mi", "rùa vàng", "nai vàng",
];
const KID_TRAITS: &[&str] = &["tinh nghịch", "dũng cảm", "đi học", "tìm bạn", "biết ơn"];
#[rustfmt::skip]
const LEGENDS: &[&str] = &[
    "núi Ngọc Linh", "dòng sông Đăk Bla", "cây nêu ngày Tết", "bánh chưng bánh giầy",
    "cây vú sữa", "trầu cau",
];
const SCHOOL_SUBJECTS: &[(&str, &str)] = &[
    ("Toán", "510"),
    ("Tiếng Việt", "495.922"),
    ("Tự nhiên và Xã hội", "372.3"),
    ("Lịch sử và Địa lí", "959.7"),
    ("Khoa học", "500"),
    ("Đạo đức", "170"),
    ("Ngữ văn", "895.922"),
];
#[rustfmt::skip]
const PUB_LOCAL: &[&str] = &[
    "Nxb. Văn hóa Dân tộc", "Nxb. Khoa học Xã hội", "Nxb. Chính trị Quốc gia Sự thật",
    "Sở Văn hóa, Thể thao và Du lịch Kon Tum",
];
const PUB_AGRI: &[&str] = &["Nxb. Nông nghiệp", "Nxb. Khoa học và Kỹ thuật"];
#[rustfmt::skip]
const PUB_LIT: &[&str] = &[
    "Nxb. Hội Nhà văn", "Nxb. Văn học", "Nxb. Trẻ", "Nxb. Đà Nẵng",
];
const PUB_KIDS: &[&str] = &["Nxb. Kim Đồng", "Nxb. Trẻ", "Nxb. Đồng Nai"];
const PUB_SCHOOL: &[&str] = &["Nxb. Giáo dục Việt Nam", "Nxb. Đại học Sư phạm"];

/// Picks one entry of a non-empty constant list.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, list: &[T]) -> T {
    list[rng.gen_range(0..list.len() as u32) as usize]
}

/// A realistic full name: mostly Kinh, about a third from Kon Tum's ethnic minorities.
pub(super) fn person_name(rng: &mut ChaCha8Rng) -> String {
    let female = rng.gen_bool(0.5);
    let name = match rng.gen_range(0..10u32) {
        0..=6 => {
            let (middle, given) = if female {
                (MIDDLE_FEMALE, GIVEN_FEMALE)
            } else {
                (MIDDLE_MALE, GIVEN_MALE)
            };
            format!(
                "{} {} {}",
                pick(rng, FAMILY),
                pick(rng, middle),
                pick(rng, given)
            )
        }
        7 | 8 if female => format!("Y {}", pick(rng, ETHNIC_FEMALE)),
        7 | 8 => format!("A {}", pick(rng, ETHNIC_MALE)),
        _ => {
            let given = if female { ETHNIC_FEMALE } else { ETHNIC_MALE };
            format!("{} {}", pick(rng, ETHNIC_FAMILY), pick(rng, given))
        }
    };
    nfc(&name)
}

/// The record every seeded library starts with, which demos and tests search for.
pub(super) fn first_record() -> SeedRecord {
    SeedRecord {
        id: record_id(1),
        title: "Địa chí Kon Tum".into(),
        author: "Nhiều tác giả".into(),
        subjects: vec!["Địa chí".into(), "Kon Tum".into()],
        publisher: "Nxb. Chính trị Quốc gia Sự thật".into(),
        year: 2019,
        isbn: Some(isbn13("978604570123")),
        call_number: "959.761 Đ301C".into(),
        language: "vie".into(),
    }
}

/// MARC 001-style id of record `index` (from 1).
pub(super) fn record_id(index: usize) -> String {
    format!("KTR{index:08}")
}

/// What a title template produced.
struct Work {
    title: String,
    subjects: Vec<String>,
    ddc: &'static str,
    publishers: &'static [&'static str],
    collective: bool,
    school: bool,
}

fn work(
    title: String,
    subjects: &[&str],
    ddc: &'static str,
    publishers: &'static [&'static str],
) -> Work {
    Work {
        title,
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        ddc,
        publishers,
        collective: false,
        school: false,
    }
}

/// Local history and culture of Kon Tum and the Central Highlands.
fn local_work(rng: &mut ChaCha8Rng) -> Work {
    let (place, people) = (pick(rng, PLACES), pick(rng, PEOPLES));
    let mut w = match rng.gen_range(0..6u32) {
        0 => work(
            format!("Lịch sử {place}"),
            &["Lịch sử", place],
            "959.761",
            PUB_LOCAL,
        ),
        1 => work(
            format!("Văn hóa truyền thống người {people}"),
            &["Văn hóa dân gian", people],
            "390.09597",
            PUB_LOCAL,
        ),
        2 => work(
            format!("Lễ hội {} của người {people}", pick(rng, FESTIVALS)),
            &["Lễ hội", people],
            "394.269597",
            PUB_LOCAL,
        ),
        3 => work(
            "Những ngôi nhà rông Tây Nguyên".into(),
            &["Nhà rông", "Kiến trúc", "Tây Nguyên"],
            "728.09597",
            PUB_LOCAL,
        ),
        4 => work(
            format!("Không gian văn hóa cồng chiêng {people}"),
            &["Cồng chiêng", people],
            "784.19597",
            PUB_LOCAL,
        ),
        _ => work(
            format!("Địa danh {place} xưa và nay"),
            &["Địa danh", place],
            "915.9761",
            PUB_LOCAL,
        ),
    };
    w.collective = rng.gen_bool(0.2);
    w
}

/// Farming handbooks for the red basalt soils of the highlands.
fn farming_work(rng: &mut ChaCha8Rng) -> Work {
    let crop = pick(rng, CROPS);
    match rng.gen_range(0..5u32) {
        0 => work(
            format!("Kỹ thuật trồng {crop}"),
            &["Trồng trọt", crop],
            "633",
            PUB_AGRI,
        ),
        1 => work(
            format!("Chăm sóc {crop} trong mùa khô"),
            &["Trồng trọt", crop],
            "631.5",
            PUB_AGRI,
        ),
        2 => work(
            format!("Phòng trừ sâu bệnh hại {crop}"),
            &["Bảo vệ thực vật", crop],
            "632.9",
            PUB_AGRI,
        ),
        3 => work(
            format!("Kinh nghiệm trồng {crop} trên đất đỏ bazan"),
            &["Trồng trọt", crop, "Tây Nguyên"],
            "633",
            PUB_AGRI,
        ),
        _ => {
            let animal = pick(rng, ANIMALS);
            work(
                format!("Kỹ thuật nuôi {animal}"),
                &["Chăn nuôi", animal],
                "636",
                PUB_AGRI,
            )
        }
    }
}

/// Folk tales, epics, poetry and novels.
fn literature_work(rng: &mut ChaCha8Rng) -> Work {
    let people = pick(rng, PEOPLES);
    match rng.gen_range(0..6u32) {
        0 => work(
            format!("Truyện cổ {people}"),
            &["Truyện cổ tích", people],
            "398.209597",
            PUB_LIT,
        ),
        1 => work(
            format!("Sử thi {people}"),
            &["Sử thi", people],
            "398.2",
            PUB_LIT,
        ),
        2 => work(
            format!("Tiếng chiêng trên đỉnh {}", pick(rng, MOUNTAINS)),
            &["Văn học Việt Nam", "Tiểu thuyết"],
            "895.9223",
            PUB_LIT,
        ),
        3 => work(
            format!("Đêm trăng bên dòng {}", pick(rng, RIVERS)),
            &["Văn học Việt Nam", "Truyện ngắn"],
            "895.9223",
            PUB_LIT,
        ),
        4 => {
            let place = pick(rng, PLACES);
            work(
                format!("Tuyển tập thơ {place}"),
                &["Văn học Việt Nam", "Thơ", place],
                "895.9221",
                PUB_LIT,
            )
        }
        _ => work(
            format!("Mùa hoa {} nở", pick(rng, CROPS)),
            &["Văn học Việt Nam", "Tiểu thuyết"],
            "895.9223",
            PUB_LIT,
        ),
    }
}

/// Picture books and stories for children.
fn children_work(rng: &mut ChaCha8Rng) -> Work {
    let animal = pick(rng, KID_ANIMALS);
    match rng.gen_range(0..4u32) {
        0 => work(
            nfc(&format!("Chú {animal} {}", pick(rng, KID_TRAITS))),
            &["Sách thiếu nhi", "Truyện tranh"],
            "895.9223",
            PUB_KIDS,
        ),
        1 => work(
            format!("Cuộc phiêu lưu của {animal}"),
            &["Sách thiếu nhi"],
            "895.9223",
            PUB_KIDS,
        ),
        2 => work(
            format!("Sự tích {}", pick(rng, LEGENDS)),
            &["Sách thiếu nhi", "Truyện cổ tích"],
            "398.2",
            PUB_KIDS,
        ),
        _ => work(
            format!(
                "Bé học {}",
                pick(rng, &["chữ cái", "đếm số", "màu sắc", "tiếng Ba Na"])
            ),
            &["Sách thiếu nhi", "Giáo dục mầm non"],
            "372.21",
            PUB_KIDS,
        ),
    }
}

/// School textbooks and language primers.
fn school_work(rng: &mut ChaCha8Rng) -> Work {
    let mut w = if rng.gen_bool(0.8) {
        let (subject, ddc) = pick(rng, SCHOOL_SUBJECTS);
        let grade = rng.gen_range(1..=12u32);
        work(
            format!("{subject} lớp {grade}"),
            &["Sách giáo khoa", subject],
            ddc,
            PUB_SCHOOL,
        )
    } else {
        let lang = pick(rng, &["Ba Na", "Xơ Đăng", "Gia Rai"]);
        work(
            format!("Tiếng {lang} cho người mới học"),
            &["Ngôn ngữ", lang],
            "495.93",
            PUB_SCHOOL,
        )
    };
    w.school = true;
    w.collective = rng.gen_bool(0.5);
    w
}

/// A DDC-like call number: class, then a Vietnamese-cutter-like mark (initial, three
/// digits, initial of the second word), as in "959.761 Đ301C".
fn call_number(rng: &mut ChaCha8Rng, ddc: &str, title: &str) -> String {
    let initial = |word: &str| -> String {
        match word.chars().next() {
            Some('đ' | 'Đ') => "Đ".into(),
            Some(c) => fold(&c.to_string()).to_uppercase(),
            None => String::new(),
        }
    };
    let mut words = title.split_whitespace();
    let first = words.next().map(initial).unwrap_or_default();
    let second = words.next().map(initial).unwrap_or_default();
    format!("{ddc} {first}{}{second}", rng.gen_range(100..1000u32))
}

/// Upper-cases the first letter, as subject headings are written ("Cà phê").
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An ISBN-13 from its first 12 digits, with the check digit computed.
fn isbn13(first12: &str) -> String {
    let sum: u32 = first12
        .bytes()
        .enumerate()
        .map(|(k, b)| u32::from(b - b'0') * if k % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{first12}{}", (10 - sum % 10) % 10)
}

/// A random record; `index` (from 1) makes the id.
pub(super) fn record(rng: &mut ChaCha8Rng, index: usize) -> SeedRecord {
    let w = match rng.gen_range(0..10u32) {
        0..=2 => local_work(rng),
        3..=4 => farming_work(rng),
        5..=6 => literature_work(rng),
        7..=8 => children_work(rng),
        _ => school_work(rng),
    };
    let title = nfc(&w.title);
    let author = if w.collective {
        "Nhiều tác giả".to_owned()
    } else {
        person_name(rng)
    };
    let year = if w.school {
        rng.gen_range(2018..=2025u16)
    } else {
        rng.gen_range(1985..=2026u16)
    };
    // Vietnamese publishers print ISBNs under the 978-604 prefix since the mid-1990s.
    let isbn = (year >= 1995 && rng.gen_bool(0.85))
        .then(|| isbn13(&format!("978604{:06}", rng.gen_range(0..1_000_000u32))));
    SeedRecord {
        id: record_id(index),
        call_number: call_number(rng, w.ddc, &title),
        title,
        author,
        subjects: w.subjects.iter().map(|s| capitalise(&nfc(s))).collect(),
        publisher: pick(rng, w.publishers).to_owned(),
        year,
        isbn,
        language: "vie".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn isbn_check_digit() {
        // The worked example of the ISBN standard: 978-0-306-40615-7.
        assert_eq!(isbn13("978030640615"), "9780306406157");
        assert_eq!(isbn13("978604000000"), "9786040000002");
    }

    #[test]
    fn call_numbers_look_like_ddc() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = call_number(&mut rng, "633", "Kỹ thuật trồng cà phê");
        assert!(c.starts_with("633 K") && c.ends_with('T'), "{c}");
        let c = call_number(&mut rng, "959.761", "Địa danh Ngọc Hồi xưa và nay");
        assert!(c.starts_with("959.761 Đ") && c.ends_with('D'), "{c}");
        assert_eq!(c.chars().filter(char::is_ascii_digit).count(), 6 + 3);
    }

    #[test]
    fn names_have_two_or_more_words() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..500 {
            let n = person_name(&mut rng);
            assert!(n.split(' ').count() >= 2, "{n}");
            assert_eq!(nfc(&n), n);
        }
    }
}
