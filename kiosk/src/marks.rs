//! Vietnamese letters on the on-screen keyboard: staff type the plain letter, then tap a
//! mark (the vowel's shape, then its tone), which rewrites the last letter typed.

/// A mark tapped after a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// â ê ô.
    Circumflex,
    /// ă.
    Breve,
    /// ơ ư.
    Horn,
    /// Sắc: á.
    Acute,
    /// Huyền: à.
    Grave,
    /// Hỏi: ả.
    Hook,
    /// Ngã: ã.
    Tilde,
    /// Nặng: ạ.
    Dot,
}

impl Mark {
    /// The mark by the name the UI uses (`circumflex`, `acute`, ...).
    pub fn parse(name: &str) -> Option<Mark> {
        Some(match name {
            "circumflex" => Mark::Circumflex,
            "breve" => Mark::Breve,
            "horn" => Mark::Horn,
            "acute" => Mark::Acute,
            "grave" => Mark::Grave,
            "hook" => Mark::Hook,
            "tilde" => Mark::Tilde,
            "dot" => Mark::Dot,
            _ => return None,
        })
    }
}

/// Each vowel with its five tones, in the order: none, grave, acute, hook, tilde, dot.
const VOWELS: [&str; 12] = [
    "aàáảãạ",
    "ăằắẳẵặ",
    "âầấẩẫậ",
    "eèéẻẽẹ",
    "êềếểễệ",
    "iìíỉĩị",
    "oòóỏõọ",
    "ôồốổỗộ",
    "ơờớởỡợ",
    "uùúủũụ",
    "ưừứửữự",
    "yỳýỷỹỵ",
];

/// Where `c` (lower case) sits in [`VOWELS`]: (row, tone).
fn find(c: char) -> Option<(usize, usize)> {
    VOWELS
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.chars().position(|x| x == c).map(|t| (r, t)))
}

fn at(row: usize, tone: usize) -> Option<char> {
    VOWELS.get(row).and_then(|r| r.chars().nth(tone))
}

/// The letter `c` with `mark` applied, keeping its case and its other mark; `None` when
/// the mark does not fit the letter (a tone on a consonant, a horn on an `a`).
pub fn apply(c: char, mark: Mark) -> Option<char> {
    let upper = c.is_uppercase();
    let lower = c.to_lowercase().next()?;
    let (row, tone) = find(lower)?;
    let base = at(row, 0)?;
    let new_row = |to: char| VOWELS.iter().position(|r| r.starts_with(to));
    let out = match mark {
        Mark::Circumflex | Mark::Breve | Mark::Horn => {
            let target = match (mark, base) {
                (Mark::Circumflex, 'a' | 'ă') => 'â',
                (Mark::Circumflex, 'e') => 'ê',
                (Mark::Circumflex, 'o' | 'ơ') => 'ô',
                (Mark::Breve, 'a' | 'â') => 'ă',
                (Mark::Horn, 'o' | 'ô') => 'ơ',
                (Mark::Horn, 'u') => 'ư',
                // Tapping the same shape again takes it off, as staff expect from an undo.
                (Mark::Circumflex, 'â') => 'a',
                (Mark::Circumflex, 'ê') => 'e',
                (Mark::Circumflex, 'ô') => 'o',
                (Mark::Breve, 'ă') => 'a',
                (Mark::Horn, 'ơ') => 'o',
                (Mark::Horn, 'ư') => 'u',
                _ => return None,
            };
            at(new_row(target)?, tone)?
        }
        tone_mark => {
            let t = match tone_mark {
                Mark::Grave => 1,
                Mark::Acute => 2,
                Mark::Hook => 3,
                Mark::Tilde => 4,
                _ => 5,
            };
            at(row, if t == tone { 0 } else { t })?
        }
    };
    Some(if upper {
        out.to_uppercase().next()?
    } else {
        out
    })
}

/// Applies `mark` to the last letter of `text`; false (and no change) when it does not fit.
pub fn apply_last(text: &mut String, mark: Mark) -> bool {
    let Some(last) = text.chars().last() else {
        return false;
    };
    let Some(new) = apply(last, mark) else {
        return false;
    };
    text.pop();
    text.push(new);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_tones_combine_in_either_order() {
        let mut s = String::from("Vie");
        assert!(apply_last(&mut s, Mark::Circumflex));
        assert!(apply_last(&mut s, Mark::Dot));
        assert_eq!(s, "Việ");
        let mut s = String::from("o");
        assert!(apply_last(&mut s, Mark::Hook));
        assert!(apply_last(&mut s, Mark::Horn));
        assert_eq!(s, "ở");
        assert_eq!(apply('A', Mark::Breve), Some('Ă'));
        assert_eq!(apply('Ô', Mark::Tilde), Some('Ỗ'));
        assert_eq!(apply('u', Mark::Horn), Some('ư'));
    }

    #[test]
    fn the_same_mark_again_takes_it_off_and_bad_marks_change_nothing() {
        assert_eq!(apply('á', Mark::Acute), Some('a'));
        assert_eq!(apply('ê', Mark::Circumflex), Some('e'));
        let mut s = String::from("Kon T");
        assert!(!apply_last(&mut s, Mark::Acute));
        assert_eq!(s, "Kon T");
        assert_eq!(apply('i', Mark::Horn), None);
        let mut empty = String::new();
        assert!(!apply_last(&mut empty, Mark::Dot));
    }
}
