//! Processing a stored bag: [`register`] queues OCR for each page; the [`WorkerPool`] reads
//! the pages (tesseract), makes the IIIF images, and indexes the text for search.
//!
//! The queue lives in SQLite (`ocr_tasks`), so it survives restarts: a task left `running`
//! by a stopped central is queued again when the pool starts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use central_store::digitise::{self as db, Claimed, NewPage, WorkerConn};
use central_store::StoreError;

use crate::layout::{master_path, ocr_base, ocr_image};
use crate::{iiif, ocr};

/// How long an idle worker sleeps before looking at the queue again (a registration
/// through [`WorkerPool::wake`] wakes it sooner).
const IDLE: Duration = Duration::from_secs(2);

/// What went wrong registering or processing a document.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The bag directory is missing something.
    #[error("bag at {path}: {reason}")]
    Bag {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A master could not be read.
    #[error("cannot read the size of {path}: {source}")]
    Master {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A worker thread could not start.
    #[error("cannot start an OCR worker: {0}")]
    Thread(std::io::Error),
}

/// OCR settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrOptions {
    /// Tesseract language(s), e.g. `vie`.
    pub lang: String,
    /// Attempts per page before it is marked failed.
    pub max_attempts: u32,
    /// The largest master decoded (a bigger one fails its page, and nothing is made).
    pub image_limits: crate::images::ImageLimits,
}

impl Default for OcrOptions {
    fn default() -> Self {
        OcrOptions {
            lang: "vie".into(),
            max_attempts: 3,
            image_limits: Default::default(),
        }
    }
}

/// The pages of a stored bag (`{document_dir}/bag/`): masters `data/master/NNNN.png`
/// numbered from 1 without gaps, their size, and their SHA-256 from `manifest-sha256.txt`.
pub fn read_bag(document_dir: &Path) -> Result<Vec<NewPage>, ProcessError> {
    let bag = document_dir.join("bag");
    let manifest_path = bag.join("manifest-sha256.txt");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(|e| ProcessError::Bag {
        path: manifest_path.clone(),
        reason: e.to_string(),
    })?;
    let mut pages = Vec::new();
    for line in manifest.lines() {
        let Some((sum, file)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let file = file.trim();
        let Some(name) = file.strip_prefix("data/master/") else {
            continue;
        };
        let position: u32 = name
            .strip_suffix(".png")
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| ProcessError::Bag {
                path: manifest_path.clone(),
                reason: format!("unexpected master name {file}"),
            })?;
        let path = master_path(document_dir, position);
        let (width, height) = image::image_dimensions(&path)
            .map_err(|source| ProcessError::Master { path, source })?;
        pages.push(NewPage {
            position,
            width,
            height,
            master_sha256: sum.trim().to_ascii_lowercase(),
        });
    }
    pages.sort_by_key(|p| p.position);
    if pages.is_empty() {
        return Err(ProcessError::Bag {
            path: manifest_path,
            reason: "no master pages".into(),
        });
    }
    if let Some((i, p)) = pages
        .iter()
        .enumerate()
        .find(|(i, p)| p.position != *i as u32 + 1)
    {
        return Err(ProcessError::Bag {
            path: manifest_path,
            reason: format!("page {} where page {} was expected", p.position, i + 1),
        });
    }
    Ok(pages)
}

/// Queues a stored, checked bag for processing: one OCR task per page. Registering a
/// document twice does nothing the second time. Returns the number of pages queued.
pub fn register(
    c: &mut WorkerConn,
    document_dir: &Path,
    document_id: &str,
    title: &str,
) -> Result<usize, ProcessError> {
    let pages = read_bag(document_dir)?;
    let added = db::register(c, document_id, title, document_dir, &pages)?;
    if !added {
        return Ok(0);
    }
    tracing::info!(
        document = document_id,
        pages = pages.len(),
        "queued document for OCR"
    );
    Ok(pages.len())
}

/// Reads one claimed page (one tesseract run: text, hOCR and the page's PDF) and makes
/// its IIIF images. Returns the OCR text.
pub fn process_page(task: &Claimed, opts: &OcrOptions) -> Result<String, String> {
    let dir = &task.document.dir;
    let master = master_path(dir, task.position);
    let image = ocr_image(dir, task.position);
    // Before tesseract or the IIIF derivation decode it: a bomb fails here, from its header.
    opts.image_limits
        .dimensions(&master)
        .map_err(|e| format!("master {}: {e}", master.display()))?;
    let out = ocr::recognise(&image, &ocr_base(dir, task.position), &opts.lang)
        .map_err(|e| e.to_string())?;
    iiif::make_images(
        &master,
        &iiif::page_dir(dir, task.position),
        &opts.image_limits,
    )
    .map_err(|e| e.to_string())?;
    Ok(out.text)
}

/// Runs one queued task, if any. Returns whether there was one.
pub fn run_one(c: &mut WorkerConn, opts: &OcrOptions) -> Result<bool, StoreError> {
    let Some(task) = db::claim(c)? else {
        return Ok(false);
    };
    let started = std::time::Instant::now();
    match process_page(&task, opts) {
        Ok(text) => {
            db::finish(c, &task.document.id, task.position, &text)?;
            tracing::info!(
                document = %task.document.id,
                page = task.position,
                ms = started.elapsed().as_millis() as u64,
                chars = text.chars().count(),
                "page read"
            );
            let (complete, pages) = db::all_done(c, &task.document.id)?;
            if complete {
                join_pdf(&task.document, pages);
            }
        }
        Err(error) => {
            let give_up = task.attempts >= opts.max_attempts;
            db::fail(c, &task.document.id, task.position, &error, give_up)?;
            tracing::warn!(
                document = %task.document.id,
                page = task.position,
                attempts = task.attempts,
                give_up,
                error = %error,
                "page OCR failed"
            );
        }
    }
    Ok(true)
}

fn join_pdf(document: &db::Document, pages: u32) {
    match crate::pdf::build(&document.dir, pages) {
        Ok(path) => {
            tracing::info!(document = %document.id, path = %path.display(), "searchable PDF written")
        }
        Err(e) => tracing::warn!(document = %document.id, error = %e, "PDF not written"),
    }
}

/// Joins the PDF of every document read in full that has none (central stopped between
/// its last page and the join, or the join failed). Returns how many were joined.
pub fn join_missing_pdfs(c: &WorkerConn) -> Result<usize, StoreError> {
    let mut joined = 0;
    for (document, pages) in db::documents_read(c)? {
        if !crate::pdf::pdf_path(&document.dir).exists() {
            join_pdf(&document, pages);
            joined += 1;
        }
    }
    Ok(joined)
}

#[derive(Debug, Default)]
struct Signal {
    stop: bool,
    wakes: u64,
}

/// N worker threads taking OCR tasks from the queue.
#[derive(Debug)]
pub struct WorkerPool {
    signal: Arc<(Mutex<Signal>, Condvar)>,
    threads: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Queues again tasks left running, then starts `workers` threads (at least one) on the
    /// database at `db_path` (already opened and migrated by [`central_store::Store::open`]).
    pub fn start(
        db_path: &Path,
        workers: usize,
        opts: OcrOptions,
    ) -> Result<WorkerPool, ProcessError> {
        let c = db::open_worker(db_path)?;
        let requeued = db::requeue_running(&c)?;
        if requeued > 0 {
            tracing::info!(tasks = requeued, "OCR tasks left running were queued again");
        }
        let joined = join_missing_pdfs(&c)?;
        if joined > 0 {
            tracing::info!(documents = joined, "missing searchable PDFs joined");
        }
        drop(c);
        let signal = Arc::new((Mutex::new(Signal::default()), Condvar::new()));
        let mut threads = Vec::new();
        for n in 0..workers.max(1) {
            let conn = db::open_worker(db_path)?;
            let signal = signal.clone();
            let opts = opts.clone();
            let handle = std::thread::Builder::new()
                .name(format!("ocr-{n}"))
                .spawn(move || worker(conn, &signal, &opts))
                .map_err(ProcessError::Thread)?;
            threads.push(handle);
        }
        tracing::info!(workers = threads.len(), "OCR workers started");
        Ok(WorkerPool { signal, threads })
    }

    /// Tells idle workers to look at the queue now (after a registration).
    pub fn wake(&self) {
        let (lock, cv) = &*self.signal;
        if let Ok(mut s) = lock.lock() {
            s.wakes += 1;
        }
        cv.notify_all();
    }

    /// Stops the workers after their current page and waits for them.
    pub fn stop(self) {
        let (lock, cv) = &*self.signal;
        if let Ok(mut s) = lock.lock() {
            s.stop = true;
        }
        cv.notify_all();
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("an OCR worker panicked");
            }
        }
    }
}

fn worker(mut c: WorkerConn, signal: &(Mutex<Signal>, Condvar), opts: &OcrOptions) {
    let (lock, cv) = signal;
    loop {
        let seen = match lock.lock() {
            Ok(s) if s.stop => return,
            Ok(s) => s.wakes,
            Err(_) => return,
        };
        let worked = match run_one(&mut c, opts) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "OCR queue error");
                false
            }
        };
        if worked {
            continue;
        }
        let Ok(guard) = lock.lock() else { return };
        if guard.stop {
            return;
        }
        if guard.wakes == seen {
            let _ = cv.wait_timeout(guard, IDLE);
        }
    }
}
