//! Vietnamese search folding, shared by central and the devices.
//!
//! Folding lower-cases, strips diacritics and maps đ/Đ to d (NFD does not decompose đ,
//! so stripping marks alone would leave it), and collapses runs of non-alphanumerics
//! to one space. "Địa chí Kon Tum" and "dia chi kon tum" fold alike.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds text for search.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            _ => c,
        };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Normalises text to NFC, the form Rông stores. Text that is already NFC (most of it) is
/// only checked, not rebuilt.
pub fn nfc(text: &str) -> String {
    match unicode_normalization::is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text.to_owned(),
        _ => text.nfc().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese() {
        assert_eq!(fold("Địa chí Kon Tum"), "dia chi kon tum");
        assert_eq!(fold("ĐẶNG  Thị—Ngọc   Ẩn"), "dang thi ngoc an");
        assert_eq!(fold("Những ngôi nhà rông"), "nhung ngoi nha rong");
        assert_eq!(fold("  Lịch sử: Tây Nguyên! "), "lich su tay nguyen");
        assert_eq!(fold("ẫ ậ ờ ỡ ự ữ"), "a a o o u u");
    }

    #[test]
    fn nfd_input_folds_like_nfc() {
        let nfd: String = "Địa chí".nfd().collect();
        assert_eq!(fold(&nfd), fold("Địa chí"));
        assert_eq!(nfc(&nfd), "Địa chí");
    }

    proptest::proptest! {
        #[test]
        fn idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            proptest::prop_assert_eq!(fold(&once), once.clone());
            proptest::prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
        }
    }
}
