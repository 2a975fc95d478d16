//! Digitisation jobs, their pages and the upload progress of their bags.

use rong_protocol::digitise::{DublinCore, JobState, JobSummary, PageCheck, PageInfo};
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, OptionalExtension, Row};

use super::{conversion, Store, StoreError};

/// A job as stored, with what the views need.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// The row as the API shows it.
    pub summary: JobSummary,
    /// Its description.
    pub metadata: DublinCore,
    /// Packaging was asked for but not yet finished (a crash in `job_finish`).
    pub finishing: bool,
    /// When the page files were removed after central confirmed the job safe (ms).
    pub cleaned_at: Option<i64>,
}

/// A page as stored: the API's view plus the files' hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRow {
    /// The API's view.
    pub info: PageInfo,
    /// SHA-256 of the master, lowercase hex.
    pub master_sha256: String,
    /// SHA-256 of the access copy, lowercase hex.
    pub access_sha256: String,
}

/// One file of a bag and how far its upload got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Path inside the bag.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// The tus upload URL, once created.
    pub url: Option<String>,
    /// Bytes central confirmed.
    pub offset: u64,
}

/// The counts behind the device status's digitisation part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DigitiseCounts {
    /// Jobs open.
    pub open: u32,
    /// Jobs queued or sent.
    pub waiting: u32,
    /// Pages in those.
    pub pages_waiting: u32,
    /// Bytes of those not yet confirmed.
    pub bytes_waiting: u64,
    /// Jobs safe.
    pub safe: u32,
    /// Jobs refused.
    pub refused: u32,
}

const JOB_COLS: &str = "j.id, j.title, j.record, j.metadata, j.state, j.document, j.reason, \
     j.created_at, \
     (SELECT count(*) FROM dig_pages p WHERE p.job = j.id), \
     (SELECT coalesce(sum(size), 0) FROM dig_uploads u WHERE u.job = j.id), \
     (SELECT coalesce(sum(offset), 0) FROM dig_uploads u WHERE u.job = j.id), \
     (SELECT coalesce(sum(master_bytes + access_bytes), 0) FROM dig_pages p WHERE p.job = j.id), \
     j.cleaned_at";

fn job_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
    let metadata: String = row.get(3)?;
    let metadata: DublinCore =
        serde_json::from_str(&metadata).map_err(|e| conversion(3, e.to_string()))?;
    let state: String = row.get(4)?;
    let document: Option<String> = row.get(5)?;
    let reason: Option<String> = row.get(6)?;
    let (state, finishing) = match state.as_str() {
        "open" => (JobState::Open, false),
        "finishing" => (JobState::Open, true),
        "queued" => (JobState::Queued, false),
        "sent" => (JobState::Sent, false),
        "safe" => (
            JobState::Safe {
                document: document.unwrap_or_default(),
            },
            false,
        ),
        "refused" => (
            JobState::Refused {
                reason: reason.unwrap_or_default(),
            },
            false,
        ),
        other => return Err(conversion(4, format!("job state {other:?}"))),
    };
    let uploads_total: i64 = row.get(9)?;
    let pages_total: i64 = row.get(11)?;
    let bytes_total = if uploads_total > 0 {
        uploads_total
    } else {
        pages_total
    };
    Ok(JobRow {
        summary: JobSummary {
            job: row.get(0)?,
            title: row.get(1)?,
            record: row.get(2)?,
            state,
            pages: row.get(8)?,
            bytes_total: bytes_total as u64,
            bytes_sent: row.get::<_, i64>(10)? as u64,
            created_at: row.get(7)?,
        },
        metadata,
        finishing,
        cleaned_at: row.get(12)?,
    })
}

const PAGE_COLS: &str = "page, position, width, height, dpi, rotation, checks, master_bytes, \
     access_bytes, master_sha256, access_sha256";

fn page_row(row: &Row<'_>) -> rusqlite::Result<PageRow> {
    let info = from_row!(PageInfo => page, position, width, height, dpi, rotation,
        checks: checks_at, master_bytes as i64, access_bytes as i64)(row)?;
    Ok(PageRow {
        info,
        master_sha256: row.get(9)?,
        access_sha256: row.get(10)?,
    })
}

/// The JSON list of page checks in column `i`.
fn checks_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Vec<PageCheck>> {
    let checks: String = row.get(i)?;
    serde_json::from_str(&checks).map_err(|e| conversion(i, e.to_string()))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Refused(e.to_string()))
}

/// The position of `page` in `job`, if there is such a page.
fn page_position(
    c: &rusqlite::Connection,
    job: &str,
    page: u32,
) -> Result<Option<u32>, StoreError> {
    Ok(c.query_row(
        "SELECT position FROM dig_pages WHERE job = ?1 AND page = ?2",
        params![job, page],
        |r| r.get(0),
    )
    .optional()?)
}

impl Store {
    /// A catalogue record's title, author and year, for a job that digitises it.
    pub fn record_brief(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, Option<i64>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT title, author, year FROM records WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    /// Records a new open job.
    pub fn job_insert(
        &mut self,
        id: &str,
        title: &str,
        record: Option<&str>,
        metadata: &DublinCore,
        at: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO dig_jobs (id, title, record, metadata, state, created_at) \
                 VALUES (?1, ?2, ?3, ?4, 'open', ?5)",
            )?
            .execute(params![id, title, record, json(metadata)?, at])?;
        Ok(())
    }

    /// One job.
    pub fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {JOB_COLS} FROM dig_jobs j WHERE j.id = ?1"
            ))?
            .query_row([id], job_row)
            .optional()?)
    }

    /// Every job, newest first.
    pub fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let sql =
            format!("SELECT {JOB_COLS} FROM dig_jobs j ORDER BY j.created_at DESC, j.id DESC");
        Ok(query_list(&self.conn, &sql, [], job_row)?)
    }

    /// The oldest job waiting for its upload or its verdict.
    pub fn job_next_upload(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM dig_jobs WHERE state IN ('queued', 'sent') \
                 ORDER BY queued_at, id LIMIT 1",
            )?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    /// A job's pages in reading order.
    pub fn pages(&self, job: &str) -> Result<Vec<PageRow>, StoreError> {
        let sql = format!("SELECT {PAGE_COLS} FROM dig_pages WHERE job = ?1 ORDER BY position");
        Ok(query_list(&self.conn, &sql, [job], page_row)?)
    }

    /// One page.
    pub fn page(&self, job: &str, page: u32) -> Result<Option<PageRow>, StoreError> {
        let sql = format!("SELECT {PAGE_COLS} FROM dig_pages WHERE job = ?1 AND page = ?2");
        Ok(query_opt(&self.conn, &sql, params![job, page], page_row)?)
    }

    /// Takes the next stable page id of a job.
    pub fn page_id_take(&mut self, job: &str) -> Result<u32, StoreError> {
        let tx = self.conn.transaction()?;
        let id: u32 = tx.query_row("SELECT next_page FROM dig_jobs WHERE id = ?1", [job], |r| {
            r.get(0)
        })?;
        tx.execute(
            "UPDATE dig_jobs SET next_page = next_page + 1 WHERE id = ?1",
            [job],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Adds a page at the end, or replaces one in place (same id and position).
    pub fn page_put(&mut self, job: &str, p: &PageRow) -> Result<PageRow, StoreError> {
        let tx = self.conn.transaction()?;
        let existing = page_position(&tx, job, p.info.page)?;
        let position = match existing {
            Some(pos) => pos,
            None => tx.query_row(
                "SELECT coalesce(max(position), 0) + 1 FROM dig_pages WHERE job = ?1",
                [job],
                |r| r.get(0),
            )?,
        };
        tx.execute(
            "INSERT OR REPLACE INTO dig_pages (job, page, position, width, height, dpi, \
             rotation, checks, master_bytes, access_bytes, master_sha256, access_sha256) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                job,
                p.info.page,
                position,
                p.info.width,
                p.info.height,
                p.info.dpi,
                p.info.rotation,
                json(&p.info.checks)?,
                p.info.master_bytes as i64,
                p.info.access_bytes as i64,
                p.master_sha256,
                p.access_sha256
            ],
        )?;
        tx.commit()?;
        let mut out = p.clone();
        out.info.position = position;
        Ok(out)
    }

    /// Deletes a page and closes the gap in the positions. False when there was none.
    pub fn page_delete(&mut self, job: &str, page: u32) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let Some(pos) = page_position(&tx, job, page)? else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM dig_pages WHERE job = ?1 AND page = ?2",
            params![job, page],
        )?;
        tx.execute(
            "UPDATE dig_pages SET position = position - 1 WHERE job = ?1 AND position > ?2",
            params![job, pos],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Moves a page to `to` (clamped to 1..=pages), shifting the others. False when there
    /// was no such page.
    pub fn page_move(&mut self, job: &str, page: u32, to: u32) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let Some(from) = page_position(&tx, job, page)? else {
            return Ok(false);
        };
        let count: u32 = tx.query_row(
            "SELECT count(*) FROM dig_pages WHERE job = ?1",
            [job],
            |r| r.get(0),
        )?;
        let to = to.clamp(1, count.max(1));
        if to < from {
            tx.execute(
                "UPDATE dig_pages SET position = position + 1 \
                 WHERE job = ?1 AND position >= ?2 AND position < ?3",
                params![job, to, from],
            )?;
        } else if to > from {
            tx.execute(
                "UPDATE dig_pages SET position = position - 1 \
                 WHERE job = ?1 AND position > ?2 AND position <= ?3",
                params![job, from, to],
            )?;
        }
        tx.execute(
            "UPDATE dig_pages SET position = ?3 WHERE job = ?1 AND page = ?2",
            params![job, page, to],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Sets a job's state by name (`open`, `finishing`, ...).
    pub fn job_set_state(&mut self, job: &str, state: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE dig_jobs SET state = ?2 WHERE id = ?1")?
            .execute(params![job, state])?;
        Ok(())
    }

    /// Queues a packaged job with its bag's files, in upload order, in one transaction.
    pub fn job_queue(&mut self, job: &str, files: &[UploadRow], at: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM dig_uploads WHERE job = ?1", [job])?;
        for (i, f) in files.iter().enumerate() {
            tx.execute(
                "INSERT INTO dig_uploads (job, path, ord, size, sha256, url, offset) \
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL, 0)",
                params![job, f.path, i as i64, f.size as i64, f.sha256],
            )?;
        }
        tx.execute(
            "UPDATE dig_jobs SET state = 'queued', queued_at = ?2 WHERE id = ?1",
            params![job, at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a job with its pages and uploads.
    pub fn job_delete(&mut self, job: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM dig_uploads WHERE job = ?1", [job])?;
        tx.execute("DELETE FROM dig_pages WHERE job = ?1", [job])?;
        tx.execute("DELETE FROM dig_jobs WHERE id = ?1", [job])?;
        tx.commit()?;
        Ok(())
    }

    /// A job's bag files in upload order.
    pub fn uploads(&self, job: &str) -> Result<Vec<UploadRow>, StoreError> {
        Ok(query_list(
            &self.conn,
            "SELECT path, size, sha256, url, offset FROM dig_uploads WHERE job = ?1 ORDER BY ord",
            [job],
            from_row!(UploadRow => path, size as i64, sha256, url, offset as i64),
        )?)
    }

    /// Records a file's upload URL and confirmed offset.
    pub fn upload_progress(
        &mut self,
        job: &str,
        path: &str,
        url: Option<&str>,
        offset: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE dig_uploads SET url = ?3, offset = ?4 WHERE job = ?1 AND path = ?2",
            )?
            .execute(params![job, path, url, offset as i64])?;
        Ok(())
    }

    /// Records central's verdict at `at` (ms): `safe` with a document, or `refused` with a
    /// reason.
    pub fn job_verdict(
        &mut self,
        job: &str,
        document: Option<&str>,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        let state = if document.is_some() {
            "safe"
        } else {
            "refused"
        };
        self.conn
            .prepare_cached(
                "UPDATE dig_jobs SET state = ?2, document = ?3, reason = ?4, \
                 safe_at = CASE WHEN ?2 = 'safe' THEN coalesce(safe_at, ?5) END \
                 WHERE id = ?1",
            )?
            .execute(params![job, state, document, reason, at])?;
        Ok(())
    }

    /// Jobs safe at central at or before `safe_before` (ms) whose page files are still on
    /// the station, oldest first. A job made safe before schema 4 counts from its queueing.
    pub fn jobs_to_clean(&self, safe_before: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM dig_jobs WHERE state = 'safe' AND cleaned_at IS NULL \
             AND coalesce(safe_at, queued_at, created_at) <= ?1 \
             ORDER BY coalesce(safe_at, queued_at, created_at), id",
        )?;
        let rows = stmt.query_map([safe_before], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that a safe job's page files are gone (its rows stay).
    pub fn job_cleaned(&mut self, job: &str, at: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE dig_jobs SET cleaned_at = ?2 WHERE id = ?1 AND state = 'safe'")?
            .execute(params![job, at])?;
        Ok(())
    }

    /// The digitisation counts for the status.
    pub fn digitise_counts(&self) -> Result<DigitiseCounts, StoreError> {
        let mut c = DigitiseCounts::default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM dig_jobs GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            match state.as_str() {
                "open" | "finishing" => c.open += n,
                "queued" | "sent" => c.waiting += n,
                "safe" => c.safe += n,
                "refused" => c.refused += n,
                _ => {}
            }
        }
        c.pages_waiting = self.conn.query_row(
            "SELECT count(*) FROM dig_pages p JOIN dig_jobs j ON j.id = p.job \
             WHERE j.state IN ('queued', 'sent')",
            [],
            |r| r.get(0),
        )?;
        let bytes: i64 = self.conn.query_row(
            "SELECT coalesce(sum(u.size - u.offset), 0) FROM dig_uploads u \
             JOIN dig_jobs j ON j.id = u.job WHERE j.state IN ('queued', 'sent')",
            [],
            |r| r.get(0),
        )?;
        c.bytes_waiting = bytes.max(0) as u64;
        Ok(c)
    }
}
