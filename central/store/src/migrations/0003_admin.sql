-- Rông central, schema 3: the fleet dashboard. Times are ms since the Unix epoch.

-- People who log in to the dashboard. role 'admin' sees everything; 'staff' only `branch`.
CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    branch        TEXT,
    created_at    INTEGER NOT NULL,
    CHECK (role = 'admin' OR branch IS NOT NULL)
);

-- Server-side sessions. The cookie holds a random token; only its BLAKE2b hash is stored.
CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES admin_users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions(expires_at);

-- Fleet alerts raised from device status against the configured thresholds. One open
-- (uncleared) alert per device and kind; it clears when the condition ends.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    device          TEXT NOT NULL,
    branch          TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    raised_at       INTEGER NOT NULL,
    cleared_at      INTEGER,
    acknowledged_by TEXT,
    acknowledged_at INTEGER
);
CREATE UNIQUE INDEX alerts_open ON alerts(kind, device) WHERE cleared_at IS NULL;
CREATE INDEX alerts_raised ON alerts(raised_at);

-- Statistics read events by kind and time.
CREATE INDEX applied_events_kind_at ON applied_events(kind, device_at);
