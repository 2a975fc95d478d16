-- Rông central, schema 1. Times are ms since the Unix epoch; dates are ISO yyyy-mm-dd.

CREATE TABLE branches (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    closed_weekdays TEXT NOT NULL DEFAULT '[]',
    require_pin     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    branch        TEXT NOT NULL REFERENCES branches(id),
    registered_at INTEGER NOT NULL,
    state         TEXT,
    status        TEXT,
    last_seen     INTEGER
);

CREATE TABLE records (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    author      TEXT NOT NULL DEFAULT '',
    subjects    TEXT NOT NULL DEFAULT '[]',
    publisher   TEXT NOT NULL DEFAULT '',
    year        INTEGER,
    isbn        TEXT,
    call_number TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT 'vie',
    search      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE items (
    barcode     TEXT PRIMARY KEY,
    record      TEXT NOT NULL,
    title       TEXT NOT NULL,
    author      TEXT NOT NULL DEFAULT '',
    call_number TEXT NOT NULL DEFAULT '',
    item_type   TEXT NOT NULL,
    home_branch TEXT NOT NULL,
    status      TEXT NOT NULL
);
CREATE INDEX items_record ON items(record);

CREATE TABLE categories (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    max_loans INTEGER NOT NULL
);

CREATE TABLE patrons (
    card         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,
    branch       TEXT NOT NULL,
    blocked      TEXT,
    expires      TEXT,
    pin_hash     TEXT,
    pin_required INTEGER NOT NULL DEFAULT 0,
    staff        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE patron_uids (
    uid  TEXT PRIMARY KEY,
    card TEXT NOT NULL REFERENCES patrons(card) ON DELETE CASCADE
);
CREATE INDEX patron_uids_card ON patron_uids(card);

CREATE TABLE loan_rules (
    category     TEXT NOT NULL,
    item_type    TEXT NOT NULL,
    loan_days    INTEGER NOT NULL,
    max_renewals INTEGER NOT NULL,
    PRIMARY KEY (category, item_type)
);

CREATE TABLE closed_days (
    branch TEXT NOT NULL,
    date   TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (branch, date)
);

-- Active loans have returned_at NULL; returned ones stay as history.
CREATE TABLE loans (
    id            INTEGER PRIMARY KEY,
    item          TEXT NOT NULL,
    patron        TEXT NOT NULL,
    branch        TEXT NOT NULL,
    device        TEXT,
    loaned_at     INTEGER NOT NULL,
    due           TEXT NOT NULL,
    renewals      INTEGER NOT NULL DEFAULT 0,
    returned_at   INTEGER,
    return_device TEXT,
    missed_return INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX loans_active_item ON loans(item) WHERE returned_at IS NULL;
CREATE INDEX loans_patron ON loans(patron, returned_at);
CREATE INDEX loans_item ON loans(item);

CREATE TABLE event_logs (
    device        TEXT NOT NULL,
    log           TEXT NOT NULL,
    acked_through INTEGER NOT NULL,
    PRIMARY KEY (device, log)
);

CREATE TABLE applied_events (
    device      TEXT NOT NULL,
    log         TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event_id    TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    device_at   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (device, log, seq)
);

CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    device          TEXT,
    seq             INTEGER,
    item            TEXT,
    patron          TEXT,
    detail          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at INTEGER
);
CREATE INDEX notices_kind ON notices(kind, acknowledged_at);

-- One reference-data Op (JSON) per version; scope NULL means every branch.
CREATE TABLE changes (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    scope   TEXT,
    op      TEXT NOT NULL
);

CREATE TABLE device_status_log (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL
);
CREATE INDEX device_status_log_device ON device_status_log(device, id);

-- Commands sent to devices and, once they answer, their replies.
CREATE TABLE commands (
    id         TEXT PRIMARY KEY,
    device     TEXT NOT NULL,
    command    TEXT,
    sent_at    INTEGER,
    ok         INTEGER,
    message    TEXT,
    replied_at INTEGER
);
CREATE INDEX commands_device ON commands(device, sent_at);
