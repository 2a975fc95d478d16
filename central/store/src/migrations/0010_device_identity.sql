-- Device identity (issue 14): a device is enrolled with a one-time code and its public
-- key; until then (and once revoked) nothing it sends is applied.
ALTER TABLE devices ADD COLUMN role TEXT;
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE devices ADD COLUMN enrolled_at INTEGER;
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
ALTER TABLE devices ADD COLUMN revoked_by TEXT;

-- One-time enrolment codes, kept only as a hash.
CREATE TABLE enrolment_codes (
    hash       TEXT PRIMARY KEY,
    branch     TEXT NOT NULL REFERENCES branches(id),
    role       TEXT NOT NULL,
    device     TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER,
    spent_by   TEXT
);

-- Event batches from devices that are not enrolled, revoked, or on another branch's topic:
-- kept for staff to accept (applied through the normal ingest) or discard.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    branch      TEXT NOT NULL,
    device      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    batch       TEXT NOT NULL,
    -- SHA-256 of the batch: a device that is never acked resends the same batch, kept once.
    digest      TEXT NOT NULL,
    decision    TEXT,
    decided_by  TEXT,
    decided_at  INTEGER
);
CREATE INDEX quarantine_open ON quarantine(decided_at, id);
CREATE UNIQUE INDEX quarantine_once ON quarantine(device, digest);
