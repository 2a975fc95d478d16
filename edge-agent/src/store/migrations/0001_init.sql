-- Rông edge-agent schema, version 1.

-- Key/value facts about this database: `log` (the event-log id, a UUIDv7 made at
-- creation), `version` (reference-data version), `acked_through` (highest seq central
-- has applied).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE branches (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    closed_weekdays TEXT NOT NULL,          -- JSON array of ISO weekdays
    require_pin     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE categories (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    max_loans INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE loan_rules (
    category     TEXT NOT NULL,
    item_type    TEXT NOT NULL,
    loan_days    INTEGER NOT NULL,
    max_renewals INTEGER NOT NULL,
    PRIMARY KEY (category, item_type)
) WITHOUT ROWID;

-- No more about a reader than the protocol's Patron carries.
CREATE TABLE patrons (
    card         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,
    branch       TEXT NOT NULL,
    blocked      TEXT,
    expires      TEXT,                      -- YYYY-MM-DD
    pin_hash     TEXT,
    pin_required INTEGER NOT NULL,
    staff        INTEGER NOT NULL
);

-- NFC UIDs (normalised upper-case hex) -> card.
CREATE TABLE patron_uids (
    uid  TEXT PRIMARY KEY,
    card TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX patron_uids_card ON patron_uids(card);

CREATE TABLE items (
    barcode     TEXT PRIMARY KEY,
    record      TEXT NOT NULL,
    title       TEXT NOT NULL,
    author      TEXT NOT NULL,
    call_number TEXT NOT NULL,
    item_type   TEXT NOT NULL,
    home_branch TEXT NOT NULL,
    status      TEXT NOT NULL
);

CREATE TABLE loans (
    item     TEXT PRIMARY KEY,
    patron   TEXT NOT NULL,
    due      TEXT NOT NULL,                 -- YYYY-MM-DD
    renewals INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX loans_patron ON loans(patron);

CREATE TABLE closed_days (
    branch TEXT NOT NULL,
    date   TEXT NOT NULL,                   -- YYYY-MM-DD
    reason TEXT NOT NULL,
    PRIMARY KEY (branch, date)
) WITHOUT ROWID;

-- The append-only event log (the outbox). `item` duplicates the body's item barcode so
-- that deltas can skip loans of items with unacked events cheaply.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,             -- JSON EventBody
    at           INTEGER NOT NULL,          -- ms since the epoch, device clock
    clock_synced INTEGER NOT NULL,
    item         TEXT,
    acked        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_unacked_item ON events(item) WHERE acked = 0;

CREATE TABLE pin_failures (
    card         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER
) WITHOUT ROWID;
