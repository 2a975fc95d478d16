//! SQL for processing digitised documents: pages, the OCR queue and page full text.

use std::path::{Path, PathBuf};

use rong_protocol::fold::fold;
use rong_protocol::search::Query;
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;

/// A page to register, as read from the bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    /// Reading order, from 1.
    pub position: u32,
    /// Master width in pixels.
    pub width: u32,
    /// Master height in pixels.
    pub height: u32,
    /// SHA-256 of the master (hex), from the bag's manifest.
    pub master_sha256: String,
}

/// A stored page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Reading order, from 1.
    pub position: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// OCR state: queued, running, done or failed.
    pub ocr_state: String,
    /// The OCR text, once done.
    pub text: Option<String>,
}

/// A registered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its directory (`{data_dir}/documents/{id}`).
    pub dir: PathBuf,
}

/// An OCR task a worker claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The document.
    pub document: Document,
    /// The page.
    pub position: u32,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// Counts of OCR tasks by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OcrCounts {
    /// Documents registered.
    pub documents: u64,
    /// Pages waiting.
    pub queued: u64,
    /// Pages being read.
    pub running: u64,
    /// Pages read.
    pub done: u64,
    /// Pages given up on.
    pub failed: u64,
}

/// A full-text hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextHit {
    /// The document.
    pub document: String,
    /// Its title.
    pub title: String,
    /// The page that matched.
    pub position: u32,
    /// The page's text (whole; the caller cuts a snippet).
    pub text: String,
}

/// A document with its pages, in order.
pub type DocumentPages = (Document, Vec<Page>);

/// A document id or page number is safe to use in a path: ASCII letters, digits, `-`, `_`.
pub fn safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A document and its pages, if it is registered.
pub fn document_with_pages(c: &Connection, id: &str) -> Result<Option<DocumentPages>, StoreError> {
    let Some(d) = document(c, id)? else {
        return Ok(None);
    };
    let pages = pages(c, id)?;
    Ok(Some((d, pages)))
}

/// An OCR worker's own read-write connection: the workers claim and finish pages in short
/// immediate transactions beside the writer, so a page is never handed out twice.
#[derive(Debug)]
pub struct WorkerConn(Connection);

impl std::ops::Deref for WorkerConn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for WorkerConn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

/// Opens a read-write connection for a worker thread, on a database that
/// [`super::Store::open`] has already checked and migrated.
pub fn open_worker(path: &Path) -> Result<WorkerConn, StoreError> {
    Ok(WorkerConn(rong_sqlite::open_write(
        path,
        std::time::Duration::from_secs(30),
    )?))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Registers a document and queues OCR for each page. Registering the same document again
/// changes nothing and returns `false`.
pub fn register(
    c: &mut Connection,
    document: &str,
    title: &str,
    dir: &Path,
    pages: &[NewPage],
) -> Result<bool, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let added = tx.execute(
        "INSERT OR IGNORE INTO document_processing (document, title, dir, registered_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![document, title, dir.to_string_lossy(), now()],
    )?;
    if added == 0 {
        return Ok(false);
    }
    let at = now();
    for p in pages {
        tx.execute(
            "INSERT INTO document_pages (document, position, width, height, master_sha256) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![document, p.position, p.width, p.height, p.master_sha256],
        )?;
        tx.execute(
            "INSERT INTO ocr_tasks (document, position, updated_at) VALUES (?1, ?2, ?3)",
            params![document, p.position, at],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

impl super::Store {
    /// [`register`] on the writer's connection: how a submitted bag queues its pages.
    pub fn register_document(
        &mut self,
        document: &str,
        title: &str,
        dir: &Path,
        pages: &[NewPage],
    ) -> Result<bool, StoreError> {
        register(&mut self.conn, document, title, dir, pages)
    }
}

/// Puts tasks left `running` by a stopped central back in the queue; returns how many.
pub fn requeue_running(c: &Connection) -> Result<usize, StoreError> {
    let n = c.execute(
        "UPDATE ocr_tasks SET state = 'queued', updated_at = ?1 WHERE state = 'running'",
        params![now()],
    )?;
    c.execute(
        "UPDATE document_pages SET ocr_state = 'queued' WHERE ocr_state = 'running'",
        [],
    )?;
    Ok(n)
}

/// Claims the next queued task (oldest document, first page first), marking it running.
pub fn claim(c: &mut Connection) -> Result<Option<Claimed>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let next: Option<(String, u32, u32)> = tx
        .query_row(
            "SELECT document, position, attempts FROM ocr_tasks WHERE state = 'queued' \
             ORDER BY document, position LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((doc, position, attempts)) = next else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE ocr_tasks SET state = 'running', attempts = attempts + 1, updated_at = ?3 \
         WHERE document = ?1 AND position = ?2",
        params![doc, position, now()],
    )?;
    tx.execute(
        "UPDATE document_pages SET ocr_state = 'running' WHERE document = ?1 AND position = ?2",
        params![doc, position],
    )?;
    let document = document(&tx, &doc)?.ok_or_else(|| StoreError::NotFound(doc.clone()))?;
    tx.commit()?;
    Ok(Some(Claimed {
        document,
        position,
        attempts: attempts + 1,
    }))
}

/// Records a page's OCR text and indexes it (folded) for full-text search.
pub fn finish(
    c: &mut Connection,
    document: &str,
    position: u32,
    text: &str,
) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let rowid: i64 = tx.query_row(
        "SELECT rowid FROM document_pages WHERE document = ?1 AND position = ?2",
        params![document, position],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE document_pages SET ocr_state = 'done', text = ?2 WHERE rowid = ?1",
        params![rowid, text],
    )?;
    tx.execute("DELETE FROM document_fts WHERE rowid = ?1", params![rowid])?;
    tx.execute(
        "INSERT INTO document_fts (rowid, text) VALUES (?1, ?2)",
        params![rowid, fold(text)],
    )?;
    tx.execute(
        "UPDATE ocr_tasks SET state = 'done', error = NULL, updated_at = ?3 \
         WHERE document = ?1 AND position = ?2",
        params![document, position, now()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Records a failed attempt: back to the queue, or `failed` once `give_up` is true.
pub fn fail(
    c: &Connection,
    document: &str,
    position: u32,
    error: &str,
    give_up: bool,
) -> Result<(), StoreError> {
    let state = if give_up { "failed" } else { "queued" };
    c.execute(
        "UPDATE ocr_tasks SET state = ?3, error = ?4, updated_at = ?5 \
         WHERE document = ?1 AND position = ?2",
        params![document, position, state, error, now()],
    )?;
    c.execute(
        "UPDATE document_pages SET ocr_state = ?3 WHERE document = ?1 AND position = ?2",
        params![document, position, state],
    )?;
    Ok(())
}

/// A registered document.
pub fn document(c: &Connection, id: &str) -> Result<Option<Document>, StoreError> {
    Ok(query_opt(
        c,
        "SELECT document, title, dir FROM document_processing WHERE document = ?1",
        params![id],
        document_row,
    )?)
}

/// A document from its columns `document, title, dir`.
fn document_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: r.get(0)?,
        title: r.get(1)?,
        dir: PathBuf::from(r.get::<_, String>(2)?),
    })
}

/// Documents whose every page has been read, with their page count.
pub fn documents_read(c: &Connection) -> Result<Vec<(Document, u32)>, StoreError> {
    Ok(query_list(
        c,
        "SELECT d.document, d.title, d.dir, count(*) FROM document_processing d \
         JOIN ocr_tasks t ON t.document = d.document \
         GROUP BY d.document HAVING sum(t.state = 'done') = count(*) ORDER BY d.document",
        [],
        |r| Ok((document_row(r)?, r.get(3)?)),
    )?)
}

/// A document's pages in reading order.
pub fn pages(c: &Connection, id: &str) -> Result<Vec<Page>, StoreError> {
    Ok(query_list(
        c,
        "SELECT position, width, height, ocr_state, text FROM document_pages \
         WHERE document = ?1 ORDER BY position",
        params![id],
        from_row!(Page => position, width, height, ocr_state, text),
    )?)
}

/// The state and error of one OCR task.
pub fn task(
    c: &Connection,
    id: &str,
    position: u32,
) -> Result<Option<(String, u32, Option<String>)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT state, attempts, error FROM ocr_tasks WHERE document = ?1 AND position = ?2",
    )?
    .query_row(params![id, position], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()?)
}

/// Pages by OCR state, over every document.
pub fn counts(c: &Connection) -> Result<OcrCounts, StoreError> {
    let mut out = OcrCounts {
        documents: c.query_row("SELECT count(*) FROM document_processing", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
        ..OcrCounts::default()
    };
    let mut s = c.prepare_cached("SELECT state, count(*) FROM ocr_tasks GROUP BY state")?;
    let rows = s.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    for row in rows {
        let (state, n) = row?;
        match state.as_str() {
            "queued" => out.queued = n,
            "running" => out.running = n,
            "done" => out.done = n,
            _ => out.failed = n,
        }
    }
    Ok(out)
}

/// Pages whose OCR text holds every word of `q` (folded; the last word as a prefix).
pub fn search_text(c: &Connection, q: &Query, limit: usize) -> Result<Vec<TextHit>, StoreError> {
    let expr = q.every_word();
    if expr.is_empty() {
        return Ok(Vec::new());
    }
    Ok(query_list(
        c,
        "SELECT p.document, d.title, p.position, coalesce(p.text, '') \
         FROM document_fts f JOIN document_pages p ON p.rowid = f.rowid \
         JOIN document_processing d ON d.document = p.document \
         WHERE document_fts MATCH ?1 ORDER BY f.rank LIMIT ?2",
        params![expr, limit as i64],
        from_row!(TextHit => document, title, position, text),
    )?)
}

/// Whether every page of a document has been read (none queued, running or failed).
pub fn all_done(c: &Connection, id: &str) -> Result<(bool, u32), StoreError> {
    let (total, done): (u32, u32) = c.query_row(
        "SELECT count(*), coalesce(sum(state = 'done'), 0) FROM ocr_tasks WHERE document = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((total > 0 && total == done, total))
}
