-- The circulation desk: who lent or took back a loan at a desk (a staff user, where a
-- device did not), and the reason a refusal was overridden.
ALTER TABLE loans ADD COLUMN staff TEXT;
ALTER TABLE loans ADD COLUMN return_staff TEXT;
ALTER TABLE loans ADD COLUMN override_reason TEXT;

-- Items on their way home: returned at another branch than their own, until scanned at
-- home. `by` is the device or staff user that scanned it.
CREATE TABLE transfers (
    id          INTEGER PRIMARY KEY,
    item        TEXT NOT NULL,
    from_branch TEXT NOT NULL,
    to_branch   TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    sent_by     TEXT NOT NULL,
    received_at INTEGER,
    received_by TEXT
);
CREATE UNIQUE INDEX transfers_open_item ON transfers(item) WHERE received_at IS NULL;
CREATE INDEX transfers_to ON transfers(to_branch, received_at);

-- Circulation and cataloguing roles. SQLite cannot change a CHECK constraint, so the users
-- (with their sessions, which would go with them through the cascade) and the API tokens
-- are rebuilt to admit them.
CREATE TABLE keep_users AS
    SELECT name, password_hash, role, branch, created_at, disabled_at, last_login_at FROM admin_users;
CREATE TABLE keep_sessions AS SELECT token_hash, user, csrf, created_at, expires_at FROM admin_sessions;
DROP TABLE admin_sessions;
DROP TABLE admin_users;

CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL
                  CHECK (role IN ('admin', 'staff', 'readonly', 'circulation', 'cataloguer')),
    branch        TEXT,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    last_login_at INTEGER,
    CHECK (role = 'admin' OR branch IS NOT NULL)
);

CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES admin_users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions(expires_at);

INSERT INTO admin_users SELECT * FROM keep_users;
INSERT INTO admin_sessions SELECT * FROM keep_sessions;
DROP TABLE keep_users;
DROP TABLE keep_sessions;

CREATE TABLE keep_tokens AS SELECT * FROM api_tokens;
DROP TABLE api_tokens;
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL
                 CHECK (role IN ('admin', 'staff', 'readonly', 'circulation', 'cataloguer')),
    branch       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    CHECK (role = 'admin' OR branch IS NOT NULL)
);
INSERT INTO api_tokens SELECT * FROM keep_tokens;
DROP TABLE keep_tokens;
