-- Rông central, schema 8: facts about the database as a whole. `epoch` is a random id made
-- with the database and replaced by `central restore`. Central sends it in every ack and
-- delta; a device that sees it change knows central went back in time, and re-sends the
-- events it keeps and takes a fresh snapshot. The migration's Rust step writes the first.
CREATE TABLE central_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
