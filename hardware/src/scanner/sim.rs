//! A simulated document scanner.

use std::sync::{Arc, Mutex, MutexGuard};

use super::options::{Constraint, OptionValue, ScanOption, Unit, ValueKind};
use super::{DeviceInfo, DocumentScanner, Page, ScanError};

const DEVICE: &str = "sim:0";
const FEEDER: &str = "Automatic Document Feeder";
const MAX_W_MM: f64 = 215.9;
const MAX_H_MM: f64 = 297.0;
const RESOLUTIONS: [f64; 4] = [75.0, 150.0, 300.0, 600.0];

/// A simulated flatbed scanner with a 10-sheet feeder. Its pages are light grey paper
/// with dark word-like blocks in lines, different on every page. A
/// [`SimScannerHandle`] loads the feeder, jams it, opens the cover or unplugs it.
#[derive(Debug)]
pub struct SimScanner {
    shared: Arc<Mutex<SimState>>,
    open: bool,
    mode: String,
    resolution: i32,
    source: String,
    area: [f64; 4],
}

/// Drives a [`SimScanner`] from a test or the demo.
#[derive(Debug, Clone)]
pub struct SimScannerHandle {
    shared: Arc<Mutex<SimState>>,
}

#[derive(Debug)]
struct SimState {
    sheets: usize,
    jam_in: Option<usize>,
    jammed: bool,
    cover_open: bool,
    unplugged: bool,
    scanned: usize,
}

fn lock(m: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    // A panic while holding this lock leaves plain data behind; keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimScanner {
    /// A simulated scanner with 10 sheets in its feeder, and its handle.
    pub fn new() -> (Self, SimScannerHandle) {
        let shared = Arc::new(Mutex::new(SimState {
            sheets: 10,
            jam_in: None,
            jammed: false,
            cover_open: false,
            unplugged: false,
            scanned: 0,
        }));
        (
            SimScanner {
                shared: shared.clone(),
                open: false,
                mode: "Gray".into(),
                resolution: 150,
                source: "Flatbed".into(),
                area: [0.0, 0.0, MAX_W_MM, MAX_H_MM],
            },
            SimScannerHandle { shared },
        )
    }

    fn ready(&self) -> Result<MutexGuard<'_, SimState>, ScanError> {
        let s = lock(&self.shared);
        if s.unplugged || !self.open {
            return Err(ScanError::DeviceGone(DEVICE.into()));
        }
        Ok(s)
    }
}

impl SimScannerHandle {
    /// Puts `n` sheets in the feeder (replacing what was there).
    pub fn load(&self, n: usize) {
        lock(&self.shared).sheets = n;
    }

    /// Sheets left in the feeder.
    pub fn sheets(&self) -> usize {
        lock(&self.shared).sheets
    }

    /// Jams the feeder after `n` more sheets have gone through; the jam stays until
    /// [`clear_jam`](Self::clear_jam).
    pub fn jam_after(&self, n: usize) {
        lock(&self.shared).jam_in = Some(n);
    }

    /// Clears a jam (the jammed sheet stays in the feeder, as a person would put it back).
    pub fn clear_jam(&self) {
        let mut s = lock(&self.shared);
        s.jammed = false;
        s.jam_in = None;
    }

    /// Opens or closes the cover.
    pub fn set_cover_open(&self, open: bool) {
        lock(&self.shared).cover_open = open;
    }

    /// Unplugs (`false`) or plugs back (`true`) the scanner.
    pub fn set_plugged(&self, plugged: bool) {
        lock(&self.shared).unplugged = !plugged;
    }

    /// Pages scanned so far, from both sources.
    pub fn scanned(&self) -> usize {
        lock(&self.shared).scanned
    }
}

fn text_option(name: &str, values: &[&str], current: &str) -> ScanOption {
    ScanOption {
        name: name.into(),
        title: name.into(),
        description: String::new(),
        kind: ValueKind::Text,
        unit: Unit::None,
        constraint: Constraint::Strings(values.iter().map(|s| s.to_string()).collect()),
        value: Some(OptionValue::Text(current.into())),
        settable: true,
        active: true,
        advanced: false,
    }
}

fn mm_option(name: &str, max: f64, current: f64) -> ScanOption {
    ScanOption {
        name: name.into(),
        title: name.into(),
        description: String::new(),
        kind: ValueKind::Fixed,
        unit: Unit::Mm,
        constraint: Constraint::Range {
            min: 0.0,
            max,
            step: 0.0,
        },
        value: Some(OptionValue::Fixed(current)),
        settable: true,
        active: true,
        advanced: false,
    }
}

impl DocumentScanner for SimScanner {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, ScanError> {
        if lock(&self.shared).unplugged {
            return Ok(Vec::new());
        }
        Ok(vec![DeviceInfo {
            name: DEVICE.into(),
            vendor: "Rông".into(),
            model: "Simulated scanner with feeder".into(),
            kind: "flatbed scanner".into(),
        }])
    }

    fn open(&mut self, name: &str) -> Result<(), ScanError> {
        if name != DEVICE || lock(&self.shared).unplugged {
            return Err(ScanError::DeviceGone(name.into()));
        }
        self.open = true;
        Ok(())
    }

    fn options(&mut self) -> Result<Vec<ScanOption>, ScanError> {
        drop(self.ready()?);
        let [l, t, r, b] = self.area;
        Ok(vec![
            text_option("mode", &["Lineart", "Gray", "Color"], &self.mode),
            ScanOption {
                name: "resolution".into(),
                title: "Scan resolution".into(),
                description: String::new(),
                kind: ValueKind::Int,
                unit: Unit::Dpi,
                constraint: Constraint::Numbers(RESOLUTIONS.to_vec()),
                value: Some(OptionValue::Int(self.resolution)),
                settable: true,
                active: true,
                advanced: false,
            },
            text_option("source", &["Flatbed", FEEDER], &self.source),
            mm_option("tl-x", MAX_W_MM, l),
            mm_option("tl-y", MAX_H_MM, t),
            mm_option("br-x", MAX_W_MM, r),
            mm_option("br-y", MAX_H_MM, b),
        ])
    }

    fn set_option(&mut self, name: &str, value: OptionValue) -> Result<(), ScanError> {
        drop(self.ready()?);
        let bad = || ScanError::InvalidOption(format!("{name} = {value:?}"));
        let text = |allowed: &[&str]| match &value {
            OptionValue::Text(s) if allowed.contains(&s.as_str()) => Ok(s.clone()),
            _ => Err(bad()),
        };
        let mm = |max: f64| match value.as_f64() {
            Some(v) if (0.0..=max).contains(&v) => Ok(v),
            _ => Err(bad()),
        };
        match name {
            "mode" => self.mode = text(&["Lineart", "Gray", "Color"])?,
            "source" => self.source = text(&["Flatbed", FEEDER])?,
            "resolution" => match value {
                OptionValue::Int(r) if RESOLUTIONS.contains(&f64::from(r)) => self.resolution = r,
                _ => return Err(bad()),
            },
            "tl-x" => self.area[0] = mm(MAX_W_MM)?,
            "tl-y" => self.area[1] = mm(MAX_H_MM)?,
            "br-x" => self.area[2] = mm(MAX_W_MM)?,
            "br-y" => self.area[3] = mm(MAX_H_MM)?,
            _ => return Err(ScanError::InvalidOption(format!("no option {name}"))),
        }
        Ok(())
    }

    fn feed_page(&mut self) -> Result<Page, ScanError> {
        let mut s = self.ready()?;
        if s.cover_open {
            return Err(ScanError::CoverOpen);
        }
        if self.source == FEEDER {
            if s.jammed {
                return Err(ScanError::Jammed);
            }
            match s.jam_in {
                Some(0) => {
                    s.jammed = true;
                    return Err(ScanError::Jammed);
                }
                Some(n) => s.jam_in = Some(n - 1),
                None => {}
            }
            if s.sheets == 0 {
                return Err(ScanError::NoDocuments);
            }
            s.sheets -= 1;
        }
        s.scanned += 1;
        let serial = s.scanned;
        drop(s);
        let [l, t, r, b] = self.area;
        if r <= l || b <= t {
            return Err(ScanError::InvalidOption("empty scan area".into()));
        }
        let px = |mm: f64| ((mm / 25.4 * f64::from(self.resolution)).round() as u32).max(1);
        Ok(render(
            px(r - l),
            px(b - t),
            self.resolution as u32,
            &self.mode,
            serial,
        ))
    }

    fn finish(&mut self) {}
}

/// Draws a page: light paper with lines of dark "words" whose lengths depend on the
/// page's serial number, so every page differs.
fn render(width: u32, height: u32, dpi: u32, mode: &str, serial: usize) -> Page {
    let mm = |v: f64| (v / 25.4 * f64::from(dpi)) as u32;
    let (margin, line, glyph) = (mm(20.0), mm(7.0).max(2), mm(3.5).max(1));
    // A small linear congruential generator: deterministic, different per page.
    let mut seed = (serial as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1);
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let mut ink = vec![false; width as usize * height as usize];
    let mut y = margin;
    while y + glyph < height.saturating_sub(margin) {
        let mut x = margin;
        while x < width.saturating_sub(margin) {
            let word = mm(4.0 + f64::from(next() % 20)).max(1);
            let end = (x + word).min(width.saturating_sub(margin));
            for row in y..y + glyph {
                let start = row as usize * width as usize;
                ink[start + x as usize..start + end as usize].fill(true);
            }
            x = end + mm(2.5).max(1);
        }
        y += line;
    }
    let (channels, depth): (u8, u8) = match mode {
        "Color" => (3, 8),
        "Lineart" => (1, 1),
        _ => (1, 8),
    };
    let row_bytes = Page::row_bytes(width, depth, channels);
    let mut data = vec![0u8; row_bytes * height as usize];
    for (r, row) in ink.chunks(width as usize).enumerate() {
        let out = &mut data[r * row_bytes..(r + 1) * row_bytes];
        for (x, &dark) in row.iter().enumerate() {
            match (channels, depth) {
                (1, 1) => {
                    if dark {
                        out[x / 8] |= 0x80 >> (x % 8);
                    }
                }
                (3, _) => {
                    let rgb = if dark { [20, 30, 90] } else { [245, 240, 225] };
                    out[3 * x..3 * x + 3].copy_from_slice(&rgb);
                }
                _ => out[x] = if dark { 30 } else { 235 },
            }
        }
    }
    Page {
        width,
        height,
        depth,
        channels,
        dpi,
        data,
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::scanner::{Area, Mode, ScanSettings, Source};
    use crate::ErrorKind;

    fn opened() -> (SimScanner, SimScannerHandle) {
        let (mut s, h) = SimScanner::new();
        assert_eq!(s.devices().unwrap()[0].name, "sim:0");
        s.open("sim:0").unwrap();
        (s, h)
    }

    fn feeder(s: &mut SimScanner) {
        s.configure(&ScanSettings {
            source: Some(Source::Adf),
            ..Default::default()
        })
        .unwrap();
    }

    #[test]
    fn flatbed_page_has_the_asked_size_and_text_like_ink() {
        let (mut s, _) = opened();
        s.configure(&ScanSettings {
            mode: Some(Mode::Gray),
            resolution_dpi: Some(150),
            source: Some(Source::Flatbed),
            area: Some(Area::A4),
        })
        .unwrap();
        let p = s.scan_page().unwrap();
        assert_eq!((p.width, p.height, p.dpi), (1240, 1754, 150));
        p.validate().unwrap();
        let dark = p.data.iter().filter(|&&v| v < 128).count();
        let share = dark as f64 / p.data.len() as f64;
        assert!((0.1..0.6).contains(&share), "ink share {share}");
        // The margin is blank.
        assert_eq!(p.sample(5, 5, 0), 235);
        // A batch on the flatbed is one page.
        let (pages, end) = s.scan_all();
        assert_eq!((pages.len(), end), (1, Ok(())));
    }

    #[test]
    fn feeder_batch_delivers_every_sheet_then_stops() {
        let (mut s, h) = opened();
        feeder(&mut s);
        let (pages, end) = s.scan_all();
        assert_eq!((end, pages.len(), h.sheets()), (Ok(()), 10, 0));
        assert_ne!(pages[0].data, pages[1].data);
        assert_eq!(
            s.scan_batch(&mut |_| ControlFlow::Continue(())),
            Err(ScanError::NoDocuments)
        );
    }

    #[test]
    fn jam_mid_batch_keeps_the_pages_already_scanned() {
        let (mut s, h) = opened();
        feeder(&mut s);
        h.jam_after(3);
        let (kept, end) = s.scan_all();
        let err = end.unwrap_err();
        assert_eq!(err, ScanError::Jammed);
        assert_eq!(err.kind(), ErrorKind::NotReady);
        assert_eq!(kept.len(), 3);
        assert_eq!(s.scan_page(), Err(ScanError::Jammed));
        h.clear_jam();
        let rest = s.scan_batch(&mut |_| ControlFlow::Continue(())).unwrap();
        assert_eq!(rest, 7);
    }

    #[test]
    fn stopping_a_batch_leaves_the_rest_in_the_feeder() {
        let (mut s, h) = opened();
        feeder(&mut s);
        let mut b = s.batch();
        assert!(b.next().unwrap().is_ok());
        assert!(b.next().unwrap().is_ok());
        drop(b);
        assert_eq!(h.sheets(), 8);
        let n = s.scan_batch(&mut |_| ControlFlow::Break(())).unwrap();
        assert_eq!((n, h.sheets()), (1, 7));
    }

    #[test]
    fn cover_unplug_and_bad_options_fail_clearly() {
        let (mut s, h) = opened();
        h.set_cover_open(true);
        assert_eq!(s.scan_page(), Err(ScanError::CoverOpen));
        h.set_cover_open(false);
        assert!(matches!(
            s.set_option("resolution", OptionValue::Int(123)),
            Err(ScanError::InvalidOption(_))
        ));
        let mut colour = s.capabilities().unwrap();
        assert_eq!(colour.sources, vec![Source::Flatbed, Source::Adf]);
        s.configure(&ScanSettings {
            mode: Some(Mode::Color),
            resolution_dpi: Some(75),
            ..Default::default()
        })
        .unwrap();
        colour = s.capabilities().unwrap();
        assert_eq!(colour.current.mode, Some(Mode::Color));
        assert_eq!(s.scan_page().unwrap().channels, 3);
        s.configure(&ScanSettings {
            mode: Some(Mode::Lineart),
            ..Default::default()
        })
        .unwrap();
        let p = s.scan_page().unwrap();
        assert_eq!(p.depth, 1);
        p.to_png().unwrap();
        h.set_plugged(false);
        assert_eq!(s.devices().unwrap(), vec![]);
        let e = s.scan_page().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Disconnected);
        h.set_plugged(true);
        assert!(s.scan_page().is_ok());
        assert_eq!(h.scanned(), 3);
    }
}
