-- Edge-agent schema 2: the branch's catalogue records, for "find a book", and shelves.
-- `title_key` is the folded title; the FTS table over folded title, author, subjects, ISBN
-- and call number (rong_protocol::search::FTS_TABLE_SQL) is created by the migration's
-- Rust step, keyed by this table's rowid.
CREATE TABLE records (
    rowid       INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    author      TEXT NOT NULL,
    subjects    TEXT NOT NULL,              -- JSON array
    isbn        TEXT,
    year        INTEGER,
    publisher   TEXT NOT NULL,
    call_number TEXT NOT NULL,
    title_key   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX records_title_key ON records(title_key);
ALTER TABLE items ADD COLUMN shelf TEXT NOT NULL DEFAULT '';
CREATE INDEX items_record ON items(record);
