-- Rông central, schema 8 (issue 14, "Trust"): a read-only staff role, API tokens and the
-- audit log.

-- SQLite cannot change a CHECK constraint, so admin_users is rebuilt to admit 'readonly'.
-- Users and sessions are set aside first: dropping admin_users with foreign keys on would
-- delete every session through the cascade.
CREATE TABLE keep_users AS SELECT name, password_hash, role, branch, created_at FROM admin_users;
CREATE TABLE keep_sessions AS SELECT token_hash, user, csrf, created_at, expires_at FROM admin_sessions;
DROP TABLE admin_sessions;
DROP TABLE admin_users;

-- Read-only staff, like branch staff, see one branch.
CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'readonly')),
    branch        TEXT,
    created_at    INTEGER NOT NULL,
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

-- API tokens for the JSON API (`central token create`). Only the token's BLAKE2b hash is
-- kept; a revoked or expired token stops working at its next request.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'readonly')),
    branch       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    CHECK (role = 'admin' OR branch IS NOT NULL)
);

-- Every change made by a person or a token: who, what, when, from where. `branch` is the
-- branch the change concerns, so branch staff see their branch's rows.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    role   TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    branch TEXT,
    peer   TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_branch ON audit_log(branch, id);
