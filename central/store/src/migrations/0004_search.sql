-- Rông central: catalogue search and shelving locations.
-- `title_key` is the folded title (rong_protocol::fold), for exact and prefix matches.
-- `records_fts` holds folded title, author, subjects, ISBN and call number, keyed by the
-- record's rowid; it keeps no copy of the text (contentless), only the index.
-- The FTS table's definition is shared with the devices (rong_protocol::search), so the
-- migration's Rust step creates it, then indexes every record: the folding is Rust's.
ALTER TABLE records ADD COLUMN title_key TEXT NOT NULL DEFAULT '';
CREATE INDEX records_title_key ON records(title_key);
ALTER TABLE items ADD COLUMN shelf TEXT NOT NULL DEFAULT '';
CREATE INDEX items_home ON items(home_branch, record);
