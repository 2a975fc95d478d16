//! Turning Linux key events from a keyboard-wedge barcode reader into text.
//!
//! Pure logic, no I/O: the evdev driver ([`crate::WedgeBarcode`], feature `wedge`) feeds
//! it each `input_event` (type, code, value) and gets a frame back at every Enter. It
//! follows the US layout, which is what scanners emulate out of the box.

use crate::framing::Frame;

/// `EV_KEY`: a key went down (1), repeated (2) or up (0).
pub const EV_KEY: u16 = 1;
/// The longest line kept before it is called garbage (a stuck key, or a keyboard that is not
/// a scanner).
pub const MAX_LINE: usize = 256;

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_CAPSLOCK: u16 = 58;
const KEY_LEFTCTRL: u16 = 29;
const KEY_RIGHTCTRL: u16 = 97;
const KEY_LEFTALT: u16 = 56;
const KEY_RIGHTALT: u16 = 100;

/// Where a keyboard-wedge reader is. In TOML: `path`, `grab` (true) and `debounce_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WedgeConfig {
    /// The event device: `/dev/input/by-id/usb-...-event-kbd`, or the udev link
    /// `/dev/rong-barcode` from `images/udev/`.
    pub path: String,
    /// Grab the device so its keystrokes reach no other program (leave on).
    #[serde(default = "yes")]
    pub grab: bool,
    /// A repeat of the same code within this many milliseconds is dropped.
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
}

fn yes() -> bool {
    true
}

fn default_debounce_ms() -> u64 {
    1000
}

impl WedgeConfig {
    /// A config for `path`, grabbed, with a 1 s debounce.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            grab: true,
            debounce_ms: default_debounce_ms(),
        }
    }
}

/// The character a key gives on a US layout: `(plain, shifted)`. Letters are listed lower
/// case; caps lock flips them.
fn us_key(code: u16) -> Option<(char, char)> {
    const ROW_DIGITS: &[(char, char)] = &[
        ('1', '!'),
        ('2', '@'),
        ('3', '#'),
        ('4', '$'),
        ('5', '%'),
        ('6', '^'),
        ('7', '&'),
        ('8', '*'),
        ('9', '('),
        ('0', ')'),
        ('-', '_'),
        ('=', '+'),
    ];
    let letter = |c: char| Some((c, c.to_ascii_uppercase()));
    let same = |b: u8| Some((b as char, b as char));
    match code {
        2..=13 => ROW_DIGITS.get(usize::from(code - 2)).copied(),
        16..=25 => letter(b"qwertyuiop"[usize::from(code - 16)] as char),
        26 => Some(('[', '{')),
        27 => Some((']', '}')),
        30..=38 => letter(b"asdfghjkl"[usize::from(code - 30)] as char),
        39 => Some((';', ':')),
        40 => Some(('\'', '"')),
        41 => Some(('`', '~')),
        43 => Some(('\\', '|')),
        44..=50 => letter(b"zxcvbnm"[usize::from(code - 44)] as char),
        51 => Some((',', '<')),
        52 => Some(('.', '>')),
        53 => Some(('/', '?')),
        57 => Some((' ', ' ')),
        // The keypad, as with num lock on (scanners that send keypad digits expect it).
        55 => Some(('*', '*')),
        74 => Some(('-', '-')),
        78 => Some(('+', '+')),
        71..=73 => same(b"789"[usize::from(code - 71)]),
        75..=77 => same(b"456"[usize::from(code - 75)]),
        79..=81 => same(b"123"[usize::from(code - 79)]),
        82 => Some(('0', '0')),
        83 => Some(('.', '.')),
        98 => Some(('/', '/')),
        _ => None,
    }
}

/// Decodes one reader's key events into lines.
///
/// Only key presses type: a release (value 0) only matters for modifiers, and an autorepeat
/// (value 2) is dropped, because a scanner never holds a key and a repeat would double a
/// character. Enter (main or keypad) ends a code. A key with no character (F1, arrows, a
/// character typed with Ctrl or Alt held) makes the whole line garbage, as does a line over
/// [`MAX_LINE`] characters. Events of other types (`EV_SYN`, `EV_MSC` scan codes) are
/// ignored.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    left_shift: bool,
    right_shift: bool,
    caps_lock: bool,
    ctrl_or_alt: u8,
    line: String,
    /// Why the current line is garbage, if it is.
    bad: Option<String>,
}

impl KeyDecoder {
    /// A decoder with no key held.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets held keys and the partial line (after the device was reopened).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one event; returns a frame when it ended a line.
    pub fn feed(&mut self, ev_type: u16, code: u16, value: i32) -> Option<Frame> {
        if ev_type != EV_KEY {
            return None;
        }
        match code {
            KEY_LEFTSHIFT => self.left_shift = value != 0,
            KEY_RIGHTSHIFT => self.right_shift = value != 0,
            KEY_LEFTCTRL | KEY_RIGHTCTRL | KEY_LEFTALT | KEY_RIGHTALT => match value {
                1 => self.ctrl_or_alt = self.ctrl_or_alt.saturating_add(1),
                0 => self.ctrl_or_alt = self.ctrl_or_alt.saturating_sub(1),
                _ => {}
            },
            KEY_CAPSLOCK if value == 1 => self.caps_lock = !self.caps_lock,
            _ if value != 1 => {}
            KEY_ENTER | KEY_KPENTER => return self.end_line(),
            _ => self.type_key(code),
        }
        None
    }

    fn type_key(&mut self, code: u16) {
        if self.bad.is_some() {
            return;
        }
        let Some((plain, shifted)) = us_key(code).filter(|_| self.ctrl_or_alt == 0) else {
            self.bad = Some(format!("{}<key {code}>", self.line));
            return;
        };
        let shift = self.left_shift || self.right_shift;
        let c = if plain.is_ascii_lowercase() {
            if shift != self.caps_lock {
                shifted
            } else {
                plain
            }
        } else if shift {
            shifted
        } else {
            plain
        };
        if self.line.len() >= MAX_LINE {
            let mut shown = std::mem::take(&mut self.line);
            shown.truncate(64);
            self.bad = Some(format!("{shown}... (over {MAX_LINE} characters)"));
            return;
        }
        self.line.push(c);
    }

    fn end_line(&mut self) -> Option<Frame> {
        let line = std::mem::take(&mut self.line);
        match self.bad.take() {
            Some(why) => Some(Frame::Garbage(why)),
            None if line.is_empty() => None,
            None => Some(Frame::Code(line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Presses and releases keys the way a scanner does, shifting where asked.
    fn typed(d: &mut KeyDecoder, keys: &[(u16, bool)]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &(code, shift) in keys {
            let mut feed = |c, v| out.extend(d.feed(EV_KEY, c, v));
            if shift {
                feed(KEY_LEFTSHIFT, 1);
            }
            feed(code, 1);
            feed(code, 0);
            if shift {
                feed(KEY_LEFTSHIFT, 0);
            }
        }
        out
    }

    #[test]
    fn us_layout_with_shift() {
        let mut d = KeyDecoder::new();
        // K T 0 1 - a ! Enter
        let keys = [
            (37, true),
            (20, true),
            (11, false),
            (2, false),
            (12, false),
            (30, false),
            (2, true),
            (KEY_ENTER, false),
        ];
        assert_eq!(typed(&mut d, &keys), vec![Frame::Code("KT01-a!".into())]);
        // Caps lock flips letters only.
        d.feed(EV_KEY, KEY_CAPSLOCK, 1);
        d.feed(EV_KEY, KEY_CAPSLOCK, 0);
        let keys = [(30, false), (30, true), (2, false), (KEY_KPENTER, false)];
        assert_eq!(typed(&mut d, &keys), vec![Frame::Code("Aa1".into())]);
    }

    #[test]
    fn autorepeat_is_dropped_and_unknown_keys_spoil_the_line() {
        let mut d = KeyDecoder::new();
        assert_eq!(d.feed(EV_KEY, 2, 1), None);
        assert_eq!(d.feed(EV_KEY, 2, 2), None);
        assert_eq!(d.feed(EV_KEY, 2, 0), None);
        assert_eq!(d.feed(EV_KEY, KEY_ENTER, 1), Some(Frame::Code("1".into())));
        // F1 (59) has no character.
        let out = typed(
            &mut d,
            &[(2, false), (59, false), (3, false), (KEY_ENTER, false)],
        );
        assert!(
            matches!(&out[..], [Frame::Garbage(w)] if w.contains("key 59")),
            "{out:?}"
        );
        // Ctrl+J is not "j".
        d.feed(EV_KEY, KEY_LEFTCTRL, 1);
        let out = typed(&mut d, &[(36, false)]);
        d.feed(EV_KEY, KEY_LEFTCTRL, 0);
        assert!(out.is_empty());
        let out = typed(&mut d, &[(KEY_ENTER, false)]);
        assert!(matches!(&out[..], [Frame::Garbage(_)]), "{out:?}");
        // The next line is clean again; an empty line is nothing.
        assert!(typed(&mut d, &[(KEY_ENTER, false)]).is_empty());
        let out = typed(&mut d, &[(4, false), (KEY_ENTER, false)]);
        assert_eq!(out, vec![Frame::Code("3".into())]);
    }

    #[test]
    fn wedge_config_from_toml() {
        let c: WedgeConfig = toml::from_str("path = \"/dev/rong-barcode\"").unwrap();
        assert_eq!(c, WedgeConfig::new("/dev/rong-barcode"));
        assert!(toml::from_str::<WedgeConfig>("path = \"x\"\nlayout = \"fr\"").is_err());
    }

    #[test]
    fn over_long_lines_are_garbage() {
        let mut d = KeyDecoder::new();
        let keys: Vec<(u16, bool)> = std::iter::repeat_n((2, false), MAX_LINE + 5)
            .chain([(KEY_ENTER, false)])
            .collect();
        let out = typed(&mut d, &keys);
        assert!(
            matches!(&out[..], [Frame::Garbage(w)] if w.contains("over")),
            "{out:?}"
        );
    }
}
