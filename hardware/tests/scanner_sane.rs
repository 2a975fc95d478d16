//! The SANE driver against SANE's own `test` backend, through libsane, with a private
//! configuration (`dll.conf` naming only `test`, and a `test.conf` with seven devices and
//! a 300 mm scan area so A4 fits). Each test uses its own `test:N` device: the backend
//! counts feeder pages per device.
#![cfg(feature = "sane")]

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::OnceLock;

use rong_hardware::scanner::{
    Area, Constraint, DocumentScanner, Language, Mode, OptionValue, SaneScanner, ScanError,
    ScanSettings, ScannerTask, Source,
};
use rong_hardware::ErrorKind;

fn config_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("dll.conf"), "test\n").expect("dll.conf");
        std::fs::write(
            dir.path().join("test.conf"),
            "number_of_devices 7\ngeometry_min 0.0\ngeometry_max 300.0\ngeometry_quant 1.0\n",
        )
        .expect("test.conf");
        dir
    })
    .path()
}

fn open(device: &str) -> SaneScanner {
    let mut s = SaneScanner::with_config_dir(config_dir()).expect("SANE starts");
    s.open(device).expect("open test device");
    s
}

fn error_value(status: &str) -> OptionValue {
    OptionValue::Text(status.into())
}

/// `device` set to [`a4_feeder`] at `dpi`, with the backend's fault injection on.
fn faulty_feeder(device: &str, dpi: u32) -> SaneScanner {
    let mut s = open(device);
    s.configure(&ScanSettings {
        resolution_dpi: Some(dpi),
        ..a4_feeder()
    })
    .expect("configure");
    s.set_option("enable-test-options", OptionValue::Bool(true))
        .expect("test options");
    s
}

/// `device` scanning the backend's colour pattern from the flatbed at `dpi`, over the area
/// `(left, top, width, height)` in millimetres.
fn colour_flatbed(
    device: &str,
    dpi: u32,
    (left, top, width, height): (f64, f64, f64, f64),
) -> SaneScanner {
    let mut s = open(device);
    s.configure(&ScanSettings {
        mode: Some(Mode::Color),
        resolution_dpi: Some(dpi),
        source: Some(Source::Flatbed),
        area: Some(Area {
            left_mm: left,
            top_mm: top,
            width_mm: width,
            height_mm: height,
        }),
    })
    .expect("configure");
    s.set_option("test-picture", OptionValue::Text("Color pattern".into()))
        .expect("test picture");
    s
}

/// Gray, 300 dpi, the feeder, an A4 sheet.
fn a4_feeder() -> ScanSettings {
    ScanSettings {
        mode: Some(Mode::Gray),
        resolution_dpi: Some(300),
        source: Some(Source::Adf),
        area: Some(Area::A4),
    }
}

#[test]
fn lists_devices_and_their_options() {
    let mut s = SaneScanner::with_config_dir(config_dir()).unwrap();
    let names: Vec<String> = s.devices().unwrap().into_iter().map(|d| d.name).collect();
    for n in 0..7 {
        assert!(names.contains(&format!("test:{n}")), "{names:?}");
    }
    s.open("test:0").unwrap();
    let opts = s.options().unwrap();
    for name in [
        "mode",
        "resolution",
        "source",
        "tl-x",
        "tl-y",
        "br-x",
        "br-y",
    ] {
        assert!(opts.iter().any(|o| o.name == name), "no {name}");
    }
    let caps = s.capabilities().unwrap();
    assert!(caps.modes.contains(&Mode::Gray) && caps.modes.contains(&Mode::Color));
    assert_eq!(caps.sources, vec![Source::Flatbed, Source::Adf]);
    assert!(matches!(caps.resolutions, Constraint::Range { max, .. } if max >= 1200.0));
    assert_eq!(caps.max_area.map(|a| a.height_mm), Some(300.0));
    assert_eq!(caps.current.source, Some(Source::Flatbed));

    s.configure(&a4_feeder()).unwrap();
    let now = s.capabilities().unwrap().current;
    assert_eq!(now.source, Some(Source::Adf));
    assert_eq!(now.resolution_dpi, Some(300));
    assert_eq!(now.area, Some(Area::A4));

    let bad = s
        .set_option("mode", OptionValue::Text("Infrared".into()))
        .unwrap_err();
    assert!(matches!(bad, ScanError::InvalidOption(_)), "{bad:?}");
    let gone = s.open("test:99").unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::Disconnected);
}

#[test]
fn feeder_batch_gives_ten_a4_pages_then_runs_out() {
    let mut s = open("test:1");
    s.configure(&a4_feeder()).unwrap();
    s.set_option("test-picture", OptionValue::Text("Grid".into()))
        .unwrap();
    let (pages, end) = s.scan_all();
    assert_eq!((end, pages.len()), (Ok(()), 10));
    for p in &pages {
        // 210 × 297 mm at 300 dpi is 2480.3 × 3507.9 pixels; the backend rounds down.
        assert_eq!((p.width, p.height), (2480, 3507), "{p:?}");
        assert_eq!((p.depth, p.channels, p.dpi), (8, 1, 300));
        // The grid has black and white squares.
        assert!(p.data.contains(&0) && p.data.contains(&255));
    }
    // The batch ended because the backend's feeder ran out (SANE_STATUS_NO_DOCS at the
    // eleventh sheet), not by an error. The backend refills its feeder once it has said
    // so, so a new batch gives ten pages again.
    let mut more = 0;
    s.scan_batch(&mut |_| {
        more += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(more, 10);
}

#[test]
fn jam_mid_batch_keeps_the_pages_already_scanned() {
    let mut s = faulty_feeder("test:2", 75);
    let mut kept = Vec::new();
    let mut batch = s.batch();
    for _ in 0..3 {
        kept.push(batch.next().expect("a page").expect("scanned"));
    }
    // The backend fails every read from now on, as a feeder that jammed on sheet 4.
    batch
        .set_option("read-return-value", error_value("SANE_STATUS_JAMMED"))
        .unwrap();
    let err = batch.next().expect("an outcome").unwrap_err();
    assert_eq!(err, ScanError::Jammed);
    assert_eq!(err.kind(), ErrorKind::NotReady);
    assert!(batch.next().is_none(), "a batch stops at its first error");
    assert_eq!(batch.pages(), 3);
    drop(batch);
    assert_eq!(kept.len(), 3);
    for p in &kept {
        p.validate().unwrap();
        // 297 mm at 75 dpi is 876.97 lines; the backend rounds down.
        assert_eq!((p.width, p.height), (620, 876));
    }
    // The same through the callback API: pages before the jam reach the caller.
    s.set_option("read-return-value", error_value("Default"))
        .unwrap();
    let (seen, end) = s.scan_all();
    // The backend counts sheets by sane_start: the jammed sheet 4 is used up, so the
    // rest of the feeder (sheets 5 to 10) comes through.
    assert_eq!((end, seen.len()), (Ok(()), 6));
}

#[test]
fn empty_feeder_and_open_cover_are_clear_errors() {
    let mut s = faulty_feeder("test:3", 50);
    s.set_option("read-return-value", error_value("SANE_STATUS_NO_DOCS"))
        .unwrap();
    let (pages, end) = s.scan_all();
    assert_eq!((end, pages.len()), (Err(ScanError::NoDocuments), 0));

    s.set_option("read-return-value", error_value("SANE_STATUS_COVER_OPEN"))
        .unwrap();
    let err = s.scan_page().unwrap_err();
    assert_eq!(err, ScanError::CoverOpen);
    assert!(err.staff_message(Language::En).contains("cover is open"));
    assert!(err.staff_message(Language::Vi).contains("Nắp máy quét"));

    s.set_option("read-return-value", error_value("SANE_STATUS_IO_ERROR"))
        .unwrap();
    assert!(matches!(s.scan_page(), Err(ScanError::Io(_))));
}

#[test]
fn flatbed_gives_one_page_that_encodes_to_png() {
    let mut s = colour_flatbed("test:4", 100, (10.0, 10.0, 50.0, 25.0));
    let page = s.scan_page().unwrap();
    // 50 × 25 mm at 100 dpi: 196.9 × 98.4 pixels, rounded down.
    assert_eq!(
        (page.width, page.height, page.channels, page.depth),
        (196, 98, 3, 8)
    );
    let png = page.to_png().unwrap();
    let mut r = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (196, 98));
    assert_eq!(&buf[..info.buffer_size()], &page.data[..]);
    // A flatbed batch is the one page on the glass.
    assert_eq!(s.scan_batch(&mut |_| ControlFlow::Continue(())), Ok(1));
}

#[tokio::test]
async fn async_handle_streams_a_feeder_batch_off_the_runtime() {
    let s = open("test:5");
    let task = ScannerTask::spawn(Box::new(s)).unwrap();
    task.configure(ScanSettings {
        resolution_dpi: Some(50),
        ..a4_feeder()
    })
    .await
    .unwrap();
    let mut rx = task.scan_batch(1);
    let mut pages = 0;
    while let Some(page) = rx.recv().await {
        page.unwrap();
        pages += 1;
    }
    assert_eq!(pages, 10);
    task.run(|s| s.set_option("enable-test-options", OptionValue::Bool(true)))
        .await
        .unwrap();
    task.run(|s| s.set_option("read-return-value", error_value("SANE_STATUS_JAMMED")))
        .await
        .unwrap();
    assert_eq!(task.scan_page().await, Err(ScanError::Jammed));
}

#[test]
fn odd_frame_shapes_give_the_same_pixels() {
    let mut s = colour_flatbed("test:6", 72, (0.0, 0.0, 60.0, 40.0));
    let single = s.scan_page().unwrap();

    // A three-pass scanner sends red, green and blue as three frames.
    s.set_option("three-pass", OptionValue::Bool(true)).unwrap();
    s.set_option("three-pass-order", OptionValue::Text("GBR".into()))
        .unwrap();
    let on = s
        .options()
        .unwrap()
        .into_iter()
        .find(|o| o.name == "three-pass");
    assert_eq!(on.and_then(|o| o.value), Some(OptionValue::Bool(true)));
    let three = s.scan_page().unwrap();
    assert_eq!(three, single);
    s.set_option("three-pass", OptionValue::Bool(false))
        .unwrap();

    // Pixels lost at the end of each line: rows are padded, and the padding is dropped.
    s.set_option("ppl-loss", OptionValue::Int(7)).unwrap();
    let lossy = s.scan_page().unwrap();
    assert_eq!(
        (lossy.width, lossy.height),
        (single.width - 7, single.height)
    );
    let row = |p: &rong_hardware::scanner::Page, y: usize, n: usize| {
        let stride = p.width as usize * 3;
        p.data[y * stride..y * stride + n].to_vec()
    };
    for y in [0, 50, single.height as usize - 1] {
        let n = lossy.width as usize * 3;
        assert_eq!(row(&lossy, y, n), row(&single, y, n));
    }
    s.set_option("ppl-loss", OptionValue::Int(0)).unwrap();

    // A hand scanner does not know its height in advance (lines = -1).
    s.set_option("hand-scanner", OptionValue::Bool(true))
        .unwrap();
    let hand = s.scan_page().unwrap();
    hand.validate().unwrap();
    assert!(hand.height > 0);
    s.set_option("hand-scanner", OptionValue::Bool(false))
        .unwrap();

    // 1-bit and 16-bit greyscale encode to PNG.
    s.configure(&ScanSettings {
        mode: Some(Mode::Gray),
        ..Default::default()
    })
    .unwrap();
    for depth in [1, 16] {
        s.set_option("depth", OptionValue::Int(depth)).unwrap();
        let p = s.scan_page().unwrap();
        assert_eq!(i32::from(p.depth), depth);
        assert!(p.to_png().unwrap().starts_with(b"\x89PNG"));
    }
}
