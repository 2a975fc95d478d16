//! The local API's digitisation operations. Every one needs a staff session. They block
//! (SQLite, the scanner, image encoding): the API runs them on `spawn_blocking`.

use std::ops::ControlFlow;

use base64::Engine;
use rong_hardware::scanner::{
    DocumentScanner, Language, OptionValue, ScanError, ScanSettings, Source,
};
use rong_protocol::api::{ApiError, ErrorCode, Push, Reply, RequestOp};
use rong_protocol::digitise::{DublinCore, JobSource, JobView, PageImageSize, PageInfo};

use super::pages::{self, write_atomic, Processed};
use super::Digitise;
use super::{access_path, bag, bags_dir, job_dir, master_path};
use crate::clock::now_ms;
use crate::hardware::scanner::sim_handle;
use crate::store::{JobRow, PageRow, StoreError};

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "digitisation failure");
    ApiError::new(ErrorCode::Internal, "")
}

fn unknown(what: &str) -> ApiError {
    ApiError::new(ErrorCode::UnknownJob, what)
}

/// The API error for a scanner failure, with the staff message in both languages.
pub fn scanner_error(e: &ScanError) -> ApiError {
    tracing::warn!(error = %e, "document scanner failed");
    ApiError {
        code: ErrorCode::ScannerError,
        message: e.staff_message(Language::En),
        message_vi: e.staff_message(Language::Vi),
    }
}

fn disk_full(free: u64, min: u64) -> ApiError {
    tracing::warn!(
        free_bytes = free,
        min_free_mb = min,
        "data disk too full to scan"
    );
    ApiError::new(
        ErrorCode::DiskFull,
        format!("{} MiB free, {min} MiB needed", free / (1024 * 1024)),
    )
}

/// Scans the feeder, handing each page to `on_page`. With `jam_after`, SANE's `test`
/// backend is told to fail its reads with a jam once that many sheets are through.
fn feeder_batch(
    scanner: &mut Box<dyn DocumentScanner>,
    jam_after: Option<usize>,
    on_page: &mut dyn FnMut(rong_hardware::scanner::Page) -> ControlFlow<()>,
) -> Result<(), ScanError> {
    let mut batch = DocumentScanner::batch(scanner);
    loop {
        if jam_after == Some(batch.pages()) {
            batch.set_option("read-return-value", read_status("SANE_STATUS_JAMMED"))?;
        }
        match batch.next() {
            None => return Ok(()),
            Some(Err(e)) => return Err(e),
            Some(Ok(page)) => {
                if on_page(page).is_break() {
                    return Ok(());
                }
            }
        }
    }
}

/// A value for the SANE `test` backend's `read-return-value` option.
fn read_status(status: &str) -> OptionValue {
    OptionValue::Text(status.to_owned())
}

/// The staff session a digitisation operation carries; `None` for anything else, so an
/// operation missing from this list is refused rather than let through unchecked.
fn staff_session(op: &RequestOp) -> Option<&str> {
    match op {
        RequestOp::JobStart { session, .. }
        | RequestOp::JobList { session }
        | RequestOp::JobGet { session, .. }
        | RequestOp::JobScan { session, .. }
        | RequestOp::PageRescan { session, .. }
        | RequestOp::PageDelete { session, .. }
        | RequestOp::PageMove { session, .. }
        | RequestOp::PageRotate { session, .. }
        | RequestOp::PageImage { session, .. }
        | RequestOp::JobFinish { session, .. }
        | RequestOp::JobDiscard { session, .. } => Some(session),
        _ => None,
    }
}

fn not_ours() -> ApiError {
    ApiError::new(ErrorCode::BadRequest, "not a digitisation operation")
}

impl Digitise {
    /// Answers a digitisation operation. All but the simulator's need a staff session,
    /// checked here once.
    pub fn handle(&self, op: RequestOp) -> Result<Reply, ApiError> {
        if let RequestOp::SimDocScanner { action, sheets } = &op {
            return self.sim(action, *sheets);
        }
        let session = staff_session(&op).ok_or_else(not_ours)?;
        self.staff.require_staff(session)?;
        self.staff_op(op)
    }

    /// Answers a staff operation whose session [`staff_session`] has checked.
    fn staff_op(&self, op: RequestOp) -> Result<Reply, ApiError> {
        match op {
            RequestOp::JobStart { source, .. } => self.job_start(source),
            RequestOp::JobList { .. } => {
                let jobs = self.store.lock().jobs().map_err(internal)?;
                Ok(Reply::Jobs {
                    jobs: jobs.into_iter().map(|j| j.summary).collect(),
                })
            }
            RequestOp::JobGet { job, .. } => self.view(&job),
            RequestOp::JobScan { job, batch, .. } => self.scan(&job, batch, None),
            RequestOp::PageRescan { job, page, .. } => self.scan(&job, false, Some(page)),
            RequestOp::PageDelete { job, page, .. } => {
                self.open_job(&job)?;
                if !self
                    .store
                    .lock()
                    .page_delete(&job, page)
                    .map_err(internal)?
                {
                    return Err(unknown("no such page"));
                }
                for path in [
                    master_path(&self.settings.data_dir, &job, page),
                    access_path(&self.settings.data_dir, &job, page),
                ] {
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(path = %path.display(), error = %e, "page file not removed");
                    }
                }
                self.view(&job)
            }
            RequestOp::PageMove { job, page, to, .. } => {
                self.open_job(&job)?;
                if !self
                    .store
                    .lock()
                    .page_move(&job, page, to)
                    .map_err(internal)?
                {
                    return Err(unknown("no such page"));
                }
                self.view(&job)
            }
            RequestOp::PageRotate {
                job,
                page,
                quarter_turns,
                ..
            } => self.rotate(&job, page, quarter_turns),
            RequestOp::PageImage {
                job, page, size, ..
            } => self.picture(&job, page, size),
            RequestOp::JobFinish { job, .. } => {
                self.open_job(&job)?;
                self.finish(&job)?;
                self.view(&job)
            }
            RequestOp::JobDiscard { job, .. } => {
                self.open_job(&job)?;
                self.store.lock().job_delete(&job).map_err(internal)?;
                let dir = job_dir(&self.settings.data_dir, &job);
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "job files not removed");
                }
                tracing::info!(job, "job discarded");
                Ok(Reply::Done)
            }
            _ => Err(not_ours()),
        }
    }

    /// Writes a processed page's files and its row; returns the stored page.
    fn save_page(
        &self,
        job: &str,
        page: u32,
        rotation: u8,
        dpi: u32,
        p: &Processed,
    ) -> Result<PageInfo, ApiError> {
        let data = &self.settings.data_dir;
        write_atomic(&master_path(data, job, page), &p.master_png).map_err(internal)?;
        write_atomic(&access_path(data, job, page), &p.access_jpeg).map_err(internal)?;
        let row = PageRow {
            info: PageInfo {
                page,
                position: 0,
                width: p.width,
                height: p.height,
                dpi,
                rotation,
                checks: p.checks.clone(),
                master_bytes: p.master_png.len() as u64,
                access_bytes: p.access_jpeg.len() as u64,
            },
            master_sha256: pages::sha256_hex(&p.master_png),
            access_sha256: pages::sha256_hex(&p.access_jpeg),
        };
        let stored = self.store.lock().page_put(job, &row).map_err(internal)?;
        Ok(stored.info)
    }

    fn job_row(&self, job: &str) -> Result<JobRow, ApiError> {
        self.store
            .lock()
            .job(job)
            .map_err(internal)?
            .ok_or_else(|| unknown(""))
    }

    /// A page of a job.
    fn page_row(&self, job: &str, page: u32) -> Result<PageRow, ApiError> {
        self.store
            .lock()
            .page(job, page)
            .map_err(internal)?
            .ok_or_else(|| unknown("no such page"))
    }

    /// The job, if it is still open to changes.
    fn open_job(&self, job: &str) -> Result<JobRow, ApiError> {
        let row = self.job_row(job)?;
        if row.summary.state.name() != "open" || row.finishing {
            return Err(ApiError::new(ErrorCode::JobClosed, ""));
        }
        Ok(row)
    }

    /// The job with its pages, as the API shows it.
    pub fn job_view(&self, job: &str) -> Result<JobView, ApiError> {
        let row = self.job_row(job)?;
        let pages = self.store.lock().pages(job).map_err(internal)?;
        Ok(JobView {
            summary: row.summary,
            metadata: row.metadata,
            pages: pages.into_iter().map(|p| p.info).collect(),
        })
    }

    fn view(&self, job: &str) -> Result<Reply, ApiError> {
        Ok(Reply::Job(Box::new(self.job_view(job)?)))
    }

    fn job_start(&self, source: JobSource) -> Result<Reply, ApiError> {
        source
            .check_lengths()
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.0))?;
        let (record, metadata) = match source {
            JobSource::Record { record } => {
                let Some((title, author, year)) =
                    self.store.lock().record_brief(&record).map_err(internal)?
                else {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        format!("no catalogue record {record} on this station"),
                    ));
                };
                let dc = DublinCore {
                    title,
                    creator: Some(author).filter(|a| !a.trim().is_empty()),
                    date: year.map(|y| y.to_string()),
                    ..DublinCore::default()
                };
                (Some(record), dc)
            }
            JobSource::Described(mut dc) => {
                dc.title = dc.title.trim().to_owned();
                if dc.title.is_empty() {
                    return Err(ApiError::new(ErrorCode::BadRequest, "a title is needed"));
                }
                (None, dc)
            }
        };
        let id = uuid::Uuid::now_v7().simple().to_string();
        let dir = job_dir(&self.settings.data_dir, &id);
        for sub in ["master", "access"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(internal)?;
        }
        self.store
            .lock()
            .job_insert(&id, &metadata.title, record.as_deref(), &metadata, now_ms())
            .map_err(internal)?;
        tracing::info!(job = %id, title = %metadata.title, "job started");
        self.view(&id)
    }

    /// Fails with `disk_full` when the data disk is below the configured free space.
    fn check_disk(&self) -> Result<(), ApiError> {
        let min = self.settings.digitise.min_free_mb;
        let free = crate::host::disk_free(&self.settings.data_dir).unwrap_or(0);
        if free < min.saturating_mul(1024 * 1024) {
            return Err(disk_full(free, min));
        }
        Ok(())
    }

    /// Scans into a job: one page, a feeder batch, or one page again (`rescan`).
    fn scan(&self, job: &str, batch: bool, rescan: Option<u32>) -> Result<Reply, ApiError> {
        self.open_job(job)?;
        if let Some(page) = rescan {
            self.page_row(job, page)?;
        }
        self.check_disk()?;
        let mut slot = self.scanner.lock().unwrap_or_else(|p| p.into_inner());
        let jam_after = slot.jam_after.take();
        let Some(opened) = slot.opened.as_mut() else {
            return Err(scanner_error(&ScanError::DeviceGone(
                "no document scanner is configured or found".into(),
            )));
        };
        let source = if batch { Source::Adf } else { Source::Flatbed };
        if let Err(e) = opened.scanner.configure(&ScanSettings {
            source: Some(source),
            ..ScanSettings::default()
        }) {
            // A scanner without a feeder cannot batch; one without a flatbed scans a sheet.
            if batch {
                return Err(scanner_error(&e));
            }
            tracing::debug!(error = %e, "source not set for a single page");
        }
        let quality = self.settings.digitise.access_quality;
        let mut failure: Option<ApiError> = None;
        let mut on_page = |raw: rong_hardware::scanner::Page| -> ControlFlow<()> {
            let saved = (|| {
                self.check_disk()?;
                let processed = pages::process(&raw, quality).map_err(internal)?;
                let id = match rescan {
                    Some(p) => p,
                    None => self.store.lock().page_id_take(job).map_err(internal)?,
                };
                self.save_page(job, id, 0, raw.dpi, &processed)
            })();
            match saved {
                Ok(info) => {
                    tracing::info!(
                        job,
                        page = info.page,
                        checks = info.checks.len(),
                        "page scanned"
                    );
                    // No subscriber is not an error.
                    let _ = self.pushes.send(Push::PageScanned {
                        job: job.to_owned(),
                        page: info,
                    });
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        };
        let result = if batch {
            feeder_batch(&mut opened.scanner, jam_after, &mut on_page)
        } else {
            opened.scanner.scan_page().map(|p| {
                // A single page: whether it asked to stop does not matter.
                let _ = on_page(p);
            })
        };
        drop(slot);
        if let Some(e) = failure {
            return Err(e);
        }
        result.map_err(|e| scanner_error(&e))?;
        self.view(job)
    }

    fn rotate(&self, job: &str, page: u32, quarter_turns: i8) -> Result<Reply, ApiError> {
        self.open_job(job)?;
        let row = self.page_row(job, page)?;
        let turns = quarter_turns.rem_euclid(4) as u8;
        if turns != 0 {
            let master =
                std::fs::read(master_path(&self.settings.data_dir, job, page)).map_err(internal)?;
            let mut p = pages::rotate(&master, turns, self.settings.digitise.access_quality)
                .map_err(internal)?;
            // The checks describe the page as scanned (a quarter turn says nothing of its skew).
            p.checks = row.info.checks;
            let rotation = (row.info.rotation + turns) % 4;
            self.save_page(job, page, rotation, row.info.dpi, &p)?;
        }
        self.view(job)
    }

    fn picture(&self, job: &str, page: u32, size: PageImageSize) -> Result<Reply, ApiError> {
        if self.job_row(job)?.cleaned_at.is_some() {
            return Err(unknown(
                "the page files were removed from the station after central kept the job",
            ));
        }
        self.page_row(job, page)?;
        let access =
            std::fs::read(access_path(&self.settings.data_dir, job, page)).map_err(internal)?;
        let (jpeg, width, height) = pages::picture(&access, size).map_err(internal)?;
        Ok(Reply::PageImage {
            jpeg_base64: base64::engine::general_purpose::STANDARD.encode(jpeg),
            width,
            height,
        })
    }

    /// Packages an open job as a bag and queues it. Marked `finishing` first, so that a crash
    /// half way is finished on the next start.
    pub fn finish(&self, job: &str) -> Result<(), ApiError> {
        let row = self.job_row(job)?;
        let pages = self.store.lock().pages(job).map_err(internal)?;
        if pages.is_empty() {
            return Err(ApiError::new(ErrorCode::BadRequest, "the job has no pages"));
        }
        self.store
            .lock()
            .job_set_state(job, "finishing")
            .map_err(internal)?;
        let data = &self.settings.data_dir;
        let today = chrono::DateTime::from_timestamp_millis(now_ms())
            .unwrap_or_default()
            .with_timezone(
                &chrono::FixedOffset::east_opt(self.settings.utc_offset_minutes * 60)
                    .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset")),
            )
            .format("%Y-%m-%d")
            .to_string();
        let dir = job_dir(data, job);
        let files = bag::build(
            &bags_dir(data),
            &bag::BagInput {
                job,
                device: self.settings.device.as_str(),
                branch: self.settings.branch.as_str(),
                record: row.summary.record.as_deref(),
                metadata: &row.metadata,
                pages: &pages,
                job_dir: &dir,
                bagging_date: &today,
            },
        )
        .map_err(|e| {
            if let Err(s) = self.store.lock().job_set_state(job, "open") {
                tracing::error!(error = %s, "job left finishing");
            }
            internal(e)
        })?;
        self.store
            .lock()
            .job_queue(job, &files, now_ms())
            .map_err(|e: StoreError| internal(e))?;
        tracing::info!(
            job,
            pages = pages.len(),
            files = files.len(),
            "job packaged and queued"
        );
        self.wake.notify_one();
        Ok(())
    }

    fn sim(&self, action: &str, sheets: Option<u32>) -> Result<Reply, ApiError> {
        let Some(h) = sim_handle(&self.scanner) else {
            return self.sane_test(action, sheets);
        };
        match action {
            "jam" => h.jam_after(sheets.unwrap_or(0) as usize),
            "cover_open" => h.set_cover_open(true),
            "empty" => h.load(0),
            "unplug" => h.set_plugged(false),
            "load" => h.load(sheets.unwrap_or(10) as usize),
            "ok" => {
                h.clear_jam();
                h.set_cover_open(false);
                h.set_plugged(true);
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "unknown scanner action {other:?}: jam, cover_open, empty, unplug, ok, load"
                    ),
                ))
            }
        }
        tracing::info!(action, ?sheets, "simulated document scanner");
        Ok(Reply::Done)
    }

    /// `sim_doc_scanner` on a device of SANE's `test` backend (a scanner simulated inside
    /// libsane, reached through the real driver): a jam after N sheets of the next feeder
    /// batch, an open cover or an empty feeder through the backend's `read-return-value`
    /// option, and `ok` to clear them. Its feeder refills itself with ten sheets once it has
    /// reported empty, so `load` and `unplug` are not available.
    fn sane_test(&self, action: &str, sheets: Option<u32>) -> Result<Reply, ApiError> {
        let mut slot = self.scanner.lock().unwrap_or_else(|p| p.into_inner());
        let is_test = slot
            .opened
            .as_ref()
            .is_some_and(|o| o.sim.is_none() && o.device.name.starts_with("test:"));
        if !is_test {
            return Err(ApiError::new(ErrorCode::NoSimulator, "document scanner"));
        }
        let status = match action {
            "jam" => None,
            "cover_open" => Some("SANE_STATUS_COVER_OPEN"),
            "empty" => Some("SANE_STATUS_NO_DOCS"),
            "ok" => Some("Default"),
            other => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                    "{other:?} is not available on SANE's test backend: jam, cover_open, empty, ok"
                ),
                ))
            }
        };
        let Some(opened) = slot.opened.as_mut() else {
            return Err(ApiError::new(ErrorCode::NoSimulator, "document scanner"));
        };
        // The backend's error options are inactive until its test options are enabled.
        let set = opened
            .scanner
            .set_option("enable-test-options", OptionValue::Bool(true))
            .and_then(|()| match status {
                Some(s) => opened
                    .scanner
                    .set_option("read-return-value", read_status(s)),
                None => Ok(()),
            });
        set.map_err(|e| scanner_error(&e))?;
        slot.jam_after = match action {
            "jam" => Some(sheets.unwrap_or(0) as usize),
            _ => None,
        };
        tracing::info!(action, ?sheets, "SANE test backend");
        Ok(Reply::Done)
    }
}
