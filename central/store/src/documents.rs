//! Digitised documents (bags central keeps) and refused bags.

use rong_sqlite::{from_row, query_list};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreError};

/// A document to record once its bag is in place, and the recorded fields of a stored one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NewDocument {
    /// Central's id for it.
    pub document: String,
    /// The station's job.
    pub job: String,
    /// The station.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// The catalogue record, when the job digitised one.
    pub record: Option<String>,
    /// Title (DC-Title, else the job id).
    pub title: String,
    /// DC-Creator.
    pub creator: Option<String>,
    /// DC-Date.
    pub date: Option<String>,
    /// DC-Subject.
    pub subject: Option<String>,
    /// DC-Language.
    pub language: Option<String>,
    /// DC-Rights.
    pub rights: Option<String>,
    /// Pages.
    pub pages: u32,
    /// Payload bytes.
    pub bytes: u64,
    /// When central kept it, ms since the epoch.
    pub received_at: i64,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentRow {
    /// Its fields as recorded.
    #[serde(flatten)]
    pub doc: NewDocument,
    /// `received`, or what a later step set.
    pub state: String,
    /// When a later step last set the state, ms since the epoch.
    pub processed_at: Option<i64>,
}

impl DocumentRow {
    /// Where its bag is, under central's data directory.
    pub fn bag_dir(&self, data_dir: &std::path::Path) -> std::path::PathBuf {
        data_dir
            .join("documents")
            .join(&self.doc.document)
            .join("bag")
    }
}

/// A refused bag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BagRefusal {
    /// The station's job.
    pub job: String,
    /// The station.
    pub device: String,
    /// When, ms since the epoch.
    pub at: i64,
    /// Why.
    pub reason: String,
    /// The bad file, when one was to blame.
    pub file: Option<String>,
    /// The quarantine directory, relative to the data directory.
    pub quarantine: String,
}

const COLUMNS: &str = "document, job, device, branch, record, title, creator, date, subject, \
     language, rights, pages, bytes, received_at, state, processed_at";

fn row(r: &Row<'_>) -> rusqlite::Result<DocumentRow> {
    let doc = from_row!(NewDocument => document, job, device, branch, record, title, creator,
        date, subject, language, rights, pages, bytes as i64, received_at)(r)?;
    Ok(DocumentRow {
        doc,
        state: r.get(14)?,
        processed_at: r.get(15)?,
    })
}

impl Store {
    /// Records a kept document. If the job already has one, nothing changes and that
    /// document's id is answered (a bag is kept once per job).
    pub fn insert_document(&mut self, d: &NewDocument) -> Result<String, StoreError> {
        let tx = self.conn.transaction()?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT document FROM documents WHERE job = ?1",
                [&d.job],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(doc) = existing {
            return Ok(doc);
        }
        tx.execute(
            "INSERT INTO documents (document, job, device, branch, record, title, creator, date, \
             subject, language, rights, pages, bytes, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                d.document,
                d.job,
                d.device,
                d.branch,
                d.record,
                d.title,
                d.creator,
                d.date,
                d.subject,
                d.language,
                d.rights,
                d.pages,
                d.bytes as i64,
                d.received_at
            ],
        )?;
        tx.commit()?;
        Ok(d.document.clone())
    }

    /// Records a refused bag.
    pub fn insert_bag_refusal(&mut self, r: &BagRefusal) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO bag_refusals (job, device, at, reason, file, quarantine) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.job, r.device, r.at, r.reason, r.file, r.quarantine],
        )?;
        Ok(())
    }

    /// Sets a document's processing state (for the OCR and derivative steps).
    pub fn set_document_state(
        &mut self,
        document: &str,
        state: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let n = self.conn.execute(
            "UPDATE documents SET state = ?2, processed_at = ?3 WHERE document = ?1",
            params![document, state, at_ms],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("document {document}")));
        }
        Ok(())
    }
}

/// The document kept for a job, if any.
pub fn document_for_job(c: &Connection, job: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT document FROM documents WHERE job = ?1",
        [job],
        |r| r.get(0),
    )
    .optional()?)
}

/// One document.
pub fn document(c: &Connection, document: &str) -> Result<Option<DocumentRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM documents WHERE document = ?1"),
        [document],
        row,
    )
    .optional()?)
}

/// Documents, newest first; only those in `state` when one is given.
pub fn documents(c: &Connection, state: Option<&str>) -> Result<Vec<DocumentRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM documents WHERE ?1 IS NULL OR state = ?1 \
         ORDER BY received_at DESC, document DESC"
    );
    Ok(query_list(c, &sql, [state], row)?)
}

/// Refused bags, newest first; only a job's when one is given.
pub fn bag_refusals(c: &Connection, job: Option<&str>) -> Result<Vec<BagRefusal>, StoreError> {
    Ok(query_list(
        c,
        "SELECT job, device, at, reason, file, quarantine FROM bag_refusals \
         WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC",
        [job],
        from_row!(BagRefusal => job, device, at, reason, file, quarantine),
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_job_keeps_one_document_and_its_state_moves_on() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("c.db")).unwrap();
        let doc = NewDocument {
            document: "doc1".into(),
            job: "job1".into(),
            device: "kt-01-scan".into(),
            branch: "kt-01".into(),
            title: "Sử thi".into(),
            pages: 2,
            bytes: 10,
            received_at: 5,
            ..Default::default()
        };
        assert_eq!(s.insert_document(&doc).unwrap(), "doc1");
        let again = NewDocument {
            document: "doc2".into(),
            ..doc.clone()
        };
        assert_eq!(s.insert_document(&again).unwrap(), "doc1");
        assert_eq!(
            document_for_job(s.reader(), "job1").unwrap().as_deref(),
            Some("doc1")
        );
        let all = documents(s.reader(), None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state, "received");
        assert_eq!(
            all[0].bag_dir(std::path::Path::new("/d")),
            std::path::Path::new("/d/documents/doc1/bag")
        );
        s.set_document_state("doc1", "ocr_done", 9).unwrap();
        let one = document(s.reader(), "doc1").unwrap().unwrap();
        assert_eq!(
            (one.state.as_str(), one.processed_at),
            ("ocr_done", Some(9))
        );
        assert!(documents(s.reader(), Some("received")).unwrap().is_empty());
        assert!(matches!(
            s.set_document_state("nope", "x", 1),
            Err(StoreError::NotFound(_))
        ));
        s.insert_bag_refusal(&BagRefusal {
            job: "job2".into(),
            device: "kt-01-scan".into(),
            at: 7,
            reason: "checksum mismatch".into(),
            file: Some("data/master/0001.png".into()),
            quarantine: "quarantine/job2-1".into(),
        })
        .unwrap();
        assert_eq!(bag_refusals(s.reader(), Some("job2")).unwrap().len(), 1);
        assert!(bag_refusals(s.reader(), Some("job1")).unwrap().is_empty());
    }
}
