-- Edge-agent schema 3: digitisation jobs, their pages, and the upload of their bags.
-- Files live under {data_dir}/digitise/; these rows are the record of what is there.
CREATE TABLE dig_jobs (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    record      TEXT,
    metadata    TEXT NOT NULL,              -- DublinCore, JSON
    state       TEXT NOT NULL,              -- open | finishing | queued | sent | safe | refused
    document    TEXT,                       -- central's id, once safe
    reason      TEXT,                       -- why central refused
    next_page   INTEGER NOT NULL DEFAULT 1, -- the next stable page id
    created_at  INTEGER NOT NULL,
    queued_at   INTEGER
);
CREATE INDEX dig_jobs_state ON dig_jobs(state, queued_at);

CREATE TABLE dig_pages (
    job           TEXT NOT NULL REFERENCES dig_jobs(id) ON DELETE CASCADE,
    page          INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    dpi           INTEGER NOT NULL,
    rotation      INTEGER NOT NULL,
    checks        TEXT NOT NULL,            -- JSON array of PageCheck
    master_bytes  INTEGER NOT NULL,
    access_bytes  INTEGER NOT NULL,
    master_sha256 TEXT NOT NULL,
    access_sha256 TEXT NOT NULL,
    PRIMARY KEY (job, page)
);

CREATE TABLE dig_uploads (
    job     TEXT NOT NULL REFERENCES dig_jobs(id) ON DELETE CASCADE,
    path    TEXT NOT NULL,                  -- inside the bag
    ord     INTEGER NOT NULL,               -- upload order: tag files, access, masters
    size    INTEGER NOT NULL,
    sha256  TEXT NOT NULL,
    url     TEXT,                           -- the tus upload, once created
    offset  INTEGER NOT NULL DEFAULT 0,     -- bytes central confirmed
    PRIMARY KEY (job, path)
);
