//! `kiosk screenshots`: renders every screen, in both languages and several screen sizes,
//! to PNG with Slint's software renderer (the testing backend; no display needed).

use std::path::{Path, PathBuf};

use slint::ComponentHandle;

use crate::config::{Config, Lang};
use crate::controller::{channel, Controller};
use crate::fake::{answer, RecordingLink};
use crate::machine::Input;
use crate::ui::AppWindow;

/// Why screenshots failed.
#[derive(Debug, thiserror::Error)]
pub enum ShotError {
    /// Slint could not render.
    #[error("rendering failed: {0}")]
    Platform(#[from] slint::PlatformError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode {path}: {source}")]
    Png {
        /// The file.
        path: PathBuf,
        /// Why.
        source: png::EncodingError,
    },
}

/// The sizes rendered: desktop/tablet landscape, the small 7" screen, and portrait.
pub const SIZES: [(u32, u32); 3] = [(1280, 800), (800, 480), (480, 800)];

/// A step of a scene.
enum Step {
    Act(&'static str, &'static str),
    Scan(&'static str),
    Tap(&'static str),
    Offline,
}

/// The scenes: a name and the steps from a fresh kiosk.
fn scenes() -> Vec<(&'static str, Vec<Step>)> {
    use Step::*;
    vec![
        ("01-start", vec![]),
        ("02-identify", vec![Act("borrow", "")]),
        (
            "03-pin-wrong",
            vec![
                Act("borrow", ""),
                Scan("P000005"),
                Act("pin-digit", "9"),
                Act("pin-ok", ""),
                Act("pin-digit", "1"),
                Act("pin-digit", "2"),
            ],
        ),
        (
            "04-refused-blocked",
            vec![Act("account", ""), Scan("B000003")],
        ),
        (
            "05-borrow-offline",
            vec![
                Offline,
                Tap("04A1B2C3"),
                Scan("KT00000001"),
                Scan("KT00000002"),
                Scan("KT00000019"),
            ],
        ),
        (
            "06-receipt",
            vec![
                Tap("04A1B2C3"),
                Scan("KT00000001"),
                Scan("KT00000002"),
                Act("finish", ""),
            ],
        ),
        (
            "07-summary-printer-failed",
            vec![
                Tap("04A1B2C3"),
                Scan("KT00000001"),
                Scan("KT00000002"),
                Scan("KT00000003"),
                Act("finish", ""),
                Act("print", ""),
            ],
        ),
        (
            "08-return-transfer-and-bad-scan",
            vec![
                Act("return", ""),
                Scan("KT00000001"),
                Scan("KT00000002"),
                Scan("KT00000029"),
                Scan("KT\u{7}00"),
            ],
        ),
        (
            "09-account-renewals",
            vec![Act("account", ""), Tap("04A1B2C3"), Act("renew-all", "")],
        ),
        (
            "10-search-keyboard",
            vec![
                Act("search", ""),
                Act("search-key", "D"),
                Act("search-key", "I"),
                Act("search-key", "A"),
                Act("search-key", " "),
                Act("search-key", "C"),
                Act("search-key", "H"),
                Act("search-key", "I"),
            ],
        ),
        (
            "11-search-results",
            vec![
                Act("search", ""),
                Act("search-key", "D"),
                Act("search-key", "I"),
                Act("search-key", "A"),
                Act("search-go", ""),
            ],
        ),
        ("12-staff-menu", vec![Tap("STAFF")]),
        ("16-scan-jobs", vec![Tap("STAFF"), Act("scanning", "")]),
        (
            "17-scan-new-from-catalogue",
            vec![
                Tap("STAFF"),
                Act("scanning", ""),
                Act("new-job", ""),
                Act("search-key", "D"),
                Act("search-key", "I"),
                Act("search-key", "A"),
                Act("search-go", ""),
            ],
        ),
        (
            "18-scan-describe",
            vec![
                Tap("STAFF"),
                Act("scanning", ""),
                Act("new-job", ""),
                Act("describe", ""),
                Act("search-key", "S"),
                Act("search-key", "U"),
                Act("form-mark", "horn"),
                Act("form-mark", "hook"),
                Act("search-key", " "),
                Act("search-key", "T"),
                Act("search-key", "H"),
                Act("search-key", "I"),
                Act("form-field", "date"),
                Act("search-key", "1"),
                Act("search-key", "9"),
                Act("search-key", "8"),
                Act("search-key", "5"),
            ],
        ),
        (
            "19-scan-pages",
            vec![
                Tap("STAFF"),
                Act("scanning", ""),
                Act("open-job", "J5"),
                Act("select-page", "2"),
            ],
        ),
        (
            "20-scan-jammed",
            vec![
                Tap("STAFF"),
                Act("scanning", ""),
                Act("open-job", "J5"),
                Act("scan-batch", ""),
            ],
        ),
        (
            "21-scan-finish",
            vec![
                Tap("STAFF"),
                Act("scanning", ""),
                Act("open-job", "J5"),
                Act("finish-job", ""),
            ],
        ),
        (
            "14-timeout-warning",
            vec![Tap("04A1B2C3"), Scan("KT00000001")],
        ),
        ("15-out-of-service", vec![]),
    ]
}

/// Makes this thread draw with Slint's testing backend and the software renderer: no
/// display, no event loop, real font metrics, and `take_snapshot` works. Call once per
/// thread before creating a window.
pub fn init_headless() {
    let backend = i_slint_backend_testing::TestingBackend::new(
        i_slint_backend_testing::TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        },
    );
    if slint::platform::set_platform(Box::new(backend)).is_err() {
        tracing::debug!("platform already set on this thread");
    }
}

/// Renders every scene at every size in both languages under `out`; returns the files.
pub fn render_all(out: &Path) -> Result<Vec<PathBuf>, ShotError> {
    init_headless();
    let window = AppWindow::new()?;
    let mut files = Vec::new();
    for (w, h) in SIZES {
        window
            .window()
            .set_size(slint::LogicalSize::new(w as f32, h as f32));
        for lang in [Lang::Vi, Lang::En] {
            let dir = out.join(format!("{w}x{h}")).join(lang.code());
            std::fs::create_dir_all(&dir).map_err(|source| ShotError::Io {
                path: dir.clone(),
                source,
            })?;
            for (name, steps) in scenes() {
                let path = dir.join(format!("{name}.png"));
                render_scene(&window, name, steps, lang, (w, h))?;
                write_png(&window, &path)?;
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn render_scene(
    window: &AppWindow,
    name: &str,
    steps: Vec<Step>,
    lang: Lang,
    (w, h): (u32, u32),
) -> Result<(), ShotError> {
    let cfg = Config {
        language: lang,
        width: w,
        height: h,
        // The warning scene shows the countdown at once; the others never see it.
        inactivity_s: if name.contains("timeout") { 0 } else { 3600 },
        warning_s: 30,
        ..Config::default()
    };
    let link = RecordingLink::default();
    let sent = link.sent.clone();
    let (_sink, inbox) = channel(|| {});
    let c = Controller::attach(window, &cfg, Box::new(link), inbox);
    let mut c = c.borrow_mut();
    c.set_size(w as f32, h as f32);
    let out_of_service = name.contains("out-of-service");
    if !out_of_service {
        c.input(Input::Connected);
    }
    let mut online = true;
    let answer_all = |c: &mut Controller, online: bool| loop {
        let batch: Vec<_> = sent.borrow_mut().drain(..).collect();
        if batch.is_empty() {
            break;
        }
        for (tag, op) in batch {
            let mut result = answer(&op);
            if let Ok(rong_protocol::api::Reply::Status(s)) = &mut result {
                if name.contains("-scan-") {
                    // The scanning screens, without the offline bar of the staff scenes.
                    s.online = true;
                } else if !name.contains("staff") && !name.contains("scanning") {
                    s.online = online;
                }
            }
            c.input(Input::Reply { tag, result });
        }
    };
    answer_all(&mut c, online);
    for step in steps {
        match step {
            Step::Act(a, arg) => c.action(a, arg),
            Step::Scan(code) => {
                for ch in code.chars() {
                    c.key(&ch.to_string());
                }
                c.key("\n");
            }
            Step::Tap(uid) => c.input(Input::CardPresent(uid.into())),
            Step::Offline => {
                online = false;
                c.action("refresh", "");
                c.input(Input::Connected);
            }
        }
        answer_all(&mut c, online);
    }
    if name.contains("timeout") {
        c.pump();
        answer_all(&mut c, online);
    }
    Ok(())
}

fn write_png(window: &AppWindow, path: &Path) -> Result<(), ShotError> {
    let shot = window.window().take_snapshot()?;
    let file = std::fs::File::create(path).map_err(|source| ShotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), shot.width(), shot.height());
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let png_err = |source| ShotError::Png {
        path: path.to_owned(),
        source,
    };
    let mut writer = enc.write_header().map_err(png_err)?;
    writer.write_image_data(shot.as_bytes()).map_err(png_err)?;
    writer.finish().map_err(png_err)
}
