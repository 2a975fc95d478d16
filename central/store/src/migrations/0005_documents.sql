-- Digitised documents: bags that passed their fixity check, and the bags refused.
CREATE TABLE documents (
    document     TEXT PRIMARY KEY,
    job          TEXT NOT NULL UNIQUE,
    device       TEXT NOT NULL,
    branch       TEXT NOT NULL,
    record       TEXT,
    title        TEXT NOT NULL,
    creator      TEXT,
    date         TEXT,
    subject      TEXT,
    language     TEXT,
    rights       TEXT,
    pages        INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    -- 'received' when the bag is kept; later steps (OCR, derivatives) move it on.
    state        TEXT NOT NULL DEFAULT 'received',
    processed_at INTEGER
);
CREATE INDEX documents_received ON documents(received_at);

CREATE TABLE bag_refusals (
    id         INTEGER PRIMARY KEY,
    job        TEXT NOT NULL,
    device     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    file       TEXT,
    quarantine TEXT NOT NULL
);
CREATE INDEX bag_refusals_job ON bag_refusals(job);
