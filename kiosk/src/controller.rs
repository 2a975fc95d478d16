//! Wires the Slint window to the state machine: touches and keys in, requests out to a
//! [`Link`], and the [`View`] back into the window's `Adapter` global. Everything runs on
//! the UI thread; background results wait in a channel until [`Controller::pump`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::config::{Config, Lang};
use crate::link::{Link, Sink};
use crate::machine::desk::Field;
use crate::machine::{Action, Effect, Input, Kiosk};
use crate::marks::Mark;
use crate::ui::{
    Adapter, AppWindow, HardwareData, HitData, JobData, PageData, RowData, Screen as UiScreen,
};
use crate::view::{DeskView, View};
use crate::wedge::{Scan, Wedge};

/// The UI-thread side of the kiosk.
pub struct Controller {
    kiosk: Kiosk,
    wedge: Wedge,
    link: Box<dyn Link>,
    inbox: Receiver<Input>,
    window: slint::Weak<AppWindow>,
    shown: Option<View>,
    size: (f32, f32),
    /// Decoded thumbnails by page id, with the revision they were decoded from.
    thumbs: std::collections::HashMap<i32, (i32, slint::Image)>,
}

/// A sink that queues inputs for the controller and calls `wake` (to schedule a pump).
pub fn channel(wake: impl Fn() + Send + Sync + 'static) -> (Sink, Receiver<Input>) {
    // Unbounded: fed by one person's touches and the agent's pushes, and drained by the
    // UI event loop on every wake.
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let sink: Sink = Arc::new(move |i| {
        if let Ok(tx) = tx.lock() {
            // The receiver only goes when the window closes; nothing is left to tell then.
            let _ = tx.send(i);
        }
        wake();
    });
    (sink, rx)
}

impl Controller {
    /// Attaches a controller to `window` and connects its callbacks.
    pub fn attach(
        window: &AppWindow,
        cfg: &Config,
        link: Box<dyn Link>,
        inbox: Receiver<Input>,
    ) -> Rc<RefCell<Controller>> {
        let now = Instant::now();
        let c = Rc::new(RefCell::new(Controller {
            kiosk: Kiosk::new(cfg.timeouts(), cfg.language, now),
            wedge: Wedge::default(),
            link,
            inbox,
            window: window.as_weak(),
            shown: None,
            size: (cfg.width as f32, cfg.height as f32),
            thumbs: std::collections::HashMap::new(),
        }));
        set_language(cfg.language);
        let adapter = window.global::<Adapter>();
        let weak = Rc::downgrade(&c);
        adapter.on_action(move |name, arg| {
            if let Some(c) = weak.upgrade() {
                if let Ok(mut c) = c.try_borrow_mut() {
                    c.action(&name, &arg);
                }
            }
        });
        let weak = Rc::downgrade(&c);
        adapter.on_key(move |text| {
            if let Some(c) = weak.upgrade() {
                if let Ok(mut c) = c.try_borrow_mut() {
                    c.key(&text);
                }
            }
        });
        c.borrow_mut().render();
        c
    }

    /// The state machine, for tests and screenshots.
    pub fn kiosk(&self) -> &Kiosk {
        &self.kiosk
    }

    /// Sets the logical window size used for text sizing and orientation.
    pub fn set_size(&mut self, width: f32, height: f32) {
        self.size = (width, height);
        self.shown = None;
        self.render();
    }

    /// Feeds one input and shows the result.
    pub fn input(&mut self, input: Input) {
        let fx = self.kiosk.handle(input, Instant::now());
        for e in fx {
            match e {
                Effect::Request { tag, op } => self.link.send(tag, op),
                Effect::Language(l) => set_language(l),
            }
        }
        self.render();
    }

    /// Handles background results and the passing of time.
    pub fn pump(&mut self) {
        while let Ok(i) = self.inbox.try_recv() {
            self.input(i);
        }
        if let Some(scan) = self.wedge.tick(Instant::now()) {
            self.scan(scan);
        }
        self.input(Input::Tick);
    }

    /// A touch, by the names `theme.slint` uses.
    pub fn action(&mut self, name: &str, arg: &str) {
        let a = match name {
            "borrow" => Action::Borrow,
            "return" => Action::Return,
            "account" => Action::Account,
            "search" => Action::Search,
            "language" => Action::Language(if arg == "en" { Lang::En } else { Lang::Vi }),
            "larger-text" => Action::LargerText,
            "pin-digit" => match arg.parse::<u8>() {
                Ok(d) => Action::PinDigit(d),
                Err(_) => return,
            },
            "pin-back" => Action::PinBack,
            "pin-ok" => Action::PinOk,
            "home" => Action::Home,
            "finish" => Action::Finish,
            "print" => Action::Print,
            "no-receipt" => Action::NoReceipt,
            "renew" => Action::Renew(arg.to_owned()),
            "renew-all" => Action::RenewAll,
            "search-key" => match arg.chars().next() {
                Some(c) => Action::SearchKey(c),
                None => return,
            },
            "search-back" => Action::SearchBack,
            "search-go" => Action::SearchGo,
            "search-edit" => Action::SearchEdit,
            "still-here" => Action::StillHere,
            "sync-now" => Action::SyncNow,
            "refresh" => Action::Refresh,
            "scanning" => Action::Scanning,
            "staff-menu" => Action::StaffMenu,
            "new-job" => Action::NewJob,
            "open-job" => Action::OpenJob(arg.to_owned()),
            "pick-record" => Action::PickRecord(arg.to_owned()),
            "describe" => Action::Describe,
            "form-field" => match Field::parse(arg) {
                Some(f) => Action::FormField(f),
                None => return,
            },
            "form-mark" => match Mark::parse(arg) {
                Some(m) => Action::FormMark(m),
                None => return,
            },
            "form-shift" => Action::FormShift,
            "start-job" => Action::StartJob,
            "scan-jobs" => Action::ScanJobs,
            "scan-one" => Action::ScanOne,
            "scan-batch" => Action::ScanBatch,
            "select-page" => match arg.parse::<u32>() {
                Ok(p) => Action::SelectPage(p),
                Err(_) => return,
            },
            "page-rescan" => Action::PageRescan,
            "page-delete" => Action::PageDelete,
            "page-left" => Action::PageLeft,
            "page-right" => Action::PageRight,
            "rotate-right" => Action::RotateRight,
            "rotate-left" => Action::RotateLeft,
            "finish-job" => Action::FinishJob,
            "confirm-finish" => Action::ConfirmFinish,
            "discard-job" => Action::DiscardJob,
            "keep-scanning" => Action::KeepScanning,
            "dismiss-problem" => Action::DismissProblem,
            other => {
                tracing::warn!(action = other, "unknown UI action");
                return;
            }
        };
        self.input(Input::Action(a));
    }

    /// A key typed into the window.
    pub fn key(&mut self, text: &str) {
        let screen = self.kiosk.screen;
        let typing = match screen {
            crate::machine::Screen::Search | crate::machine::Screen::JobNew => {
                self.kiosk.hits.is_none()
            }
            crate::machine::Screen::JobDescribe => true,
            _ => false,
        };
        if typing {
            // A keyboard on a screen with a text box types into it.
            for c in text.chars() {
                let a = match c {
                    '\n' | '\r' => Action::SearchGo,
                    '\u{8}' | '\u{7f}' => Action::SearchBack,
                    c if c.is_control() || ('\u{F700}'..='\u{F8FF}').contains(&c) => continue,
                    c => Action::SearchKey(c),
                };
                self.input(Input::Action(a));
            }
            return;
        }
        if let Some(scan) = self.wedge.key(text, Instant::now()) {
            self.scan(scan);
        }
    }

    fn scan(&mut self, scan: Scan) {
        self.input(match scan {
            Scan::Code(c) => Input::Barcode(c),
            Scan::Bad(p) => Input::BadScan(p),
        });
    }

    fn render(&mut self) {
        let view = View::of(&self.kiosk);
        let Some(window) = self.window.upgrade() else {
            return;
        };
        let a = window.global::<Adapter>();
        let old = self.shown.take();
        let (w, h) = self.size;
        let base = (w.min(h) / 24.0).clamp(16.0, 40.0);
        a.set_unit(if view.large_text { base * 1.3 } else { base });
        a.set_portrait(h > w);
        a.set_screen(match view.screen {
            crate::machine::Screen::Start => UiScreen::Start,
            crate::machine::Screen::Identify => UiScreen::Identify,
            crate::machine::Screen::Pin => UiScreen::Pin,
            crate::machine::Screen::Refused => UiScreen::Refused,
            crate::machine::Screen::Borrow => UiScreen::Borrow,
            crate::machine::Screen::Receipt => UiScreen::Receipt,
            crate::machine::Screen::Summary => UiScreen::Summary,
            crate::machine::Screen::Return => UiScreen::Returning,
            crate::machine::Screen::Account => UiScreen::Account,
            crate::machine::Screen::Search => UiScreen::Search,
            crate::machine::Screen::Staff => UiScreen::Staff,
            crate::machine::Screen::Scanning => UiScreen::Scanning,
            crate::machine::Screen::JobNew => UiScreen::JobNew,
            crate::machine::Screen::JobDescribe => UiScreen::JobDescribe,
            crate::machine::Screen::JobPages => UiScreen::JobPages,
            crate::machine::Screen::JobFinish => UiScreen::JobFinish,
        });
        a.set_out_of_service(view.out_of_service);
        a.set_online(view.online);
        a.set_large_text(view.large_text);
        a.set_vietnamese(view.lang == Lang::Vi);
        a.set_patron_name(view.patron_name.as_str().into());
        if old.as_ref().map(|o| &o.rows) != Some(&view.rows) {
            a.set_rows(model(&view.rows, |r| RowData {
                item: r.item.as_str().into(),
                title: r.title.as_str().into(),
                state: r.state,
                text: r.text.as_str().into(),
                due: r.due.as_str().into(),
                overdue: r.overdue,
            }));
        }
        a.set_busy(view.busy);
        a.set_loading(view.loading);
        a.set_identifying(view.identifying);
        a.set_pin_length(view.pin_length);
        a.set_pin_error(view.pin_error.as_str().into());
        a.set_refusal_code(view.refusal_code.as_str().into());
        a.set_refusal_text(view.refusal_text.as_str().into());
        a.set_notice_kind(view.notice_kind);
        a.set_notice_text(view.notice_text.as_str().into());
        a.set_warning(view.warning);
        a.set_query(view.query.as_str().into());
        a.set_searched(view.searched);
        if old.as_ref().map(|o| &o.hits) != Some(&view.hits) {
            a.set_hits(model(&view.hits, |h| HitData {
                record: h.record.as_str().into(),
                title: h.title.as_str().into(),
                author: h.author.as_str().into(),
                call_number: h.call_number.as_str().into(),
                shelf: h.shelf.as_str().into(),
                available_here: h.available_here,
                total_here: h.total_here,
                elsewhere: h.elsewhere.as_str().into(),
            }));
        }
        a.set_print_state(view.print_state);
        a.set_print_text(view.print_text.as_str().into());
        a.set_has_status(view.status.is_some());
        if let Some(s) = &view.status {
            a.set_status_device(s.device.as_str().into());
            a.set_status_branch(s.branch.as_str().into());
            a.set_status_online(s.online);
            a.set_status_outbox(s.outbox);
            a.set_status_catalogue(s.catalogue.as_str().into());
            a.set_hardware(model(&s.hardware, |(n, st, ok)| HardwareData {
                name: SharedString::from(n.as_str()),
                state: SharedString::from(st.as_str()),
                ok: *ok,
            }));
        }
        if old.as_ref().map(|o| &o.desk) != Some(&view.desk) {
            self.render_desk(&a, &view.desk);
        }
        self.shown = Some(view);
    }

    fn render_desk(&mut self, a: &Adapter<'_>, d: &DeskView) {
        a.set_desk_jobs_loaded(d.jobs_loaded);
        a.set_desk_jobs(model(&d.jobs, |j| JobData {
            job: j.job.as_str().into(),
            title: j.title.as_str().into(),
            state: j.state,
            pages: j.pages,
            progress: j.progress.as_str().into(),
            permille: j.permille,
            detail: j.detail.as_str().into(),
        }));
        a.set_desk_job_title(d.job_title.as_str().into());
        self.thumbs
            .retain(|p, _| d.pages.iter().any(|v| v.page == *p));
        let mut pages = Vec::with_capacity(d.pages.len());
        for p in &d.pages {
            let thumb = self.thumb(p.page, p.thumb_rev);
            pages.push(PageData {
                page: p.page,
                position: p.position,
                selected: p.selected,
                blank: p.blank,
                dark: p.dark,
                light: p.light,
                skew: p.skew.as_str().into(),
                has_thumb: thumb.is_some(),
                thumb: thumb.unwrap_or_default(),
            });
        }
        a.set_desk_pages(ModelRc::new(VecModel::from(pages)));
        a.set_desk_busy(d.busy);
        a.set_desk_can_edit(d.can_edit);
        a.set_desk_has_selection(d.has_selection);
        a.set_desk_problem_code(d.problem_code.as_str().into());
        a.set_desk_problem_text(d.problem_text.as_str().into());
        a.set_desk_form(model(&d.form, |f| f.as_str().into()));
        a.set_desk_field(d.field.as_str().into());
        a.set_desk_shift(d.shift);
        a.set_desk_title_missing(d.title_missing);
        a.set_desk_closing(d.closing);
    }

    /// The decoded thumbnail of `page` at revision `rev`, decoding it when it changed.
    fn thumb(&mut self, page: i32, rev: i32) -> Option<slint::Image> {
        if rev == 0 {
            return None;
        }
        if let Some((r, img)) = self.thumbs.get(&page) {
            if *r == rev {
                return Some(img.clone());
            }
        }
        let id = u32::try_from(page).ok()?;
        let jpeg = &self.kiosk.desk.thumbs.get(&id)?.jpeg;
        let img = match decode_jpeg(jpeg) {
            Ok(img) => img,
            Err(e) => {
                tracing::warn!(page, error = %e, "thumbnail is not a JPEG");
                return None;
            }
        };
        self.thumbs.insert(page, (rev, img.clone()));
        Some(img)
    }
}

/// A list for the window: each of `items` turned into its row by `row`.
fn model<T, R: Clone + 'static>(items: &[T], row: impl FnMut(&T) -> R) -> ModelRc<R> {
    ModelRc::new(VecModel::from(items.iter().map(row).collect::<Vec<_>>()))
}

/// Decodes a JPEG into a Slint image.
pub fn decode_jpeg(jpeg: &[u8]) -> Result<slint::Image, image::ImageError> {
    let rgba = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)?.to_rgba8();
    let buf = slint::SharedPixelBuffer::<slint::Rgba8Pixel>::clone_from_slice(
        rgba.as_raw(),
        rgba.width(),
        rgba.height(),
    );
    Ok(slint::Image::from_rgba8(buf))
}

/// Switches the bundled translation.
pub fn set_language(lang: Lang) {
    if let Err(e) = slint::select_bundled_translation(lang.code()) {
        tracing::warn!(lang = lang.code(), error = %e, "no translation");
    }
}
