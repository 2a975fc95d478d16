-- Rông central: processing of stored digitised documents (OCR, IIIF, full text).
-- Documents are referenced by their id string only; the receiving side owns `documents`.
-- `document_processing`: one row per registered document (its bag directory and title).
CREATE TABLE document_processing (
    document      TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    dir           TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
-- One row per page, in reading order from 1.
CREATE TABLE document_pages (
    document      TEXT NOT NULL,
    position      INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    master_sha256 TEXT NOT NULL,
    ocr_state     TEXT NOT NULL DEFAULT 'queued'
                  CHECK (ocr_state IN ('queued', 'running', 'done', 'failed')),
    text          TEXT,
    PRIMARY KEY (document, position)
);
-- The OCR queue; it survives restarts (a task left `running` goes back to `queued`).
CREATE TABLE ocr_tasks (
    document   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'queued'
               CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (document, position)
);
CREATE INDEX ocr_tasks_state ON ocr_tasks(state, document, position);
-- Full text of each page, folded like the catalogue (rong_protocol::fold), keyed by the
-- rowid of `document_pages`.
CREATE VIRTUAL TABLE document_fts USING fts5(
    text,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3'
);
