//! The keyboard-wedge decoder on a transcript of input events in `evtest` format.
//!
//! The build machine has no `/dev/uinput` (and no input devices at all), so the evdev
//! driver itself cannot be exercised here; its key-to-text decoding is tested on a stream.
#![allow(clippy::unwrap_used)]

use rong_hardware::framing::Frame;
use rong_hardware::KeyDecoder;

/// Parses `Event: time T, type N (...), code N (...), value V` lines; SYN_REPORT lines are
/// type 0. The value is hex for MSC_SCAN, decimal otherwise, as evtest prints them.
fn events(text: &str) -> Vec<(u16, u16, i32)> {
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = &line[line.find(&format!("{name} "))? + name.len() + 1..];
        Some(rest.split([' ', ',']).next()?.to_owned())
    };
    text.lines()
        .filter(|l| l.starts_with("Event:"))
        .map(|l| {
            if l.contains("SYN_REPORT") {
                return (0, 0, 0);
            }
            let ty: u16 = field(l, "type").unwrap().parse().unwrap();
            let code: u16 = field(l, "code").unwrap().parse().unwrap();
            let raw = field(l, "value").unwrap();
            let value = if l.contains("MSC_SCAN") {
                i32::from_str_radix(&raw, 16).unwrap()
            } else {
                raw.parse().unwrap()
            };
            (ty, code, value)
        })
        .collect()
}

#[test]
fn a_recorded_stream_decodes_to_codes_and_garbage() {
    let text = include_str!("fixtures/wedge-scans.evtest");
    let evs = events(text);
    assert!(evs.len() > 300, "{}", evs.len());
    assert!(
        evs.iter().any(|e| e.0 == 4),
        "scan-code events are in the stream"
    );
    assert!(
        evs.iter().any(|e| e.0 == 1 && e.2 == 2),
        "autorepeat events are in the stream"
    );
    let mut d = KeyDecoder::new();
    let frames: Vec<Frame> = evs
        .into_iter()
        .filter_map(|(t, c, v)| d.feed(t, c, v))
        .collect();
    assert_eq!(frames.len(), 6, "{frames:?}");
    assert_eq!(frames[0], Frame::Code("KT00000001".into()));
    assert_eq!(frames[1], Frame::Code("P000002".into()));
    assert_eq!(frames[2], Frame::Code("Kt-1/z".into()));
    assert_eq!(frames[3], Frame::Code("11".into()));
    assert!(
        matches!(&frames[4], Frame::Garbage(w) if w.starts_with("KT0<key 63>")),
        "{:?}",
        frames[4]
    );
    assert_eq!(frames[5], Frame::Code("KT00000004".into()));
}

#[test]
fn a_stream_cut_mid_line_and_restarted_after_reset_loses_only_that_line() {
    // An unplug mid-scan: the driver resets the decoder when it reopens the device.
    let evs = events(include_str!("fixtures/wedge-scans.evtest"));
    let mut d = KeyDecoder::new();
    // Feed the first code's shift press and a few keys, then unplug.
    for &(t, c, v) in &evs[..12] {
        assert_eq!(d.feed(t, c, v), None);
    }
    d.reset();
    // The shift that was held is forgotten: the next full stream decodes as before.
    let first = evs.iter().find_map(|&(t, c, v)| d.feed(t, c, v));
    assert_eq!(first, Some(Frame::Code("KT00000001".into())));
}
