-- What the library keeps about a reader beyond what lending needs (central only: no device
-- gets these columns): birth date, phone, e-mail, whether the reader consented to keep a
-- loan history, and when the reader was registered.
ALTER TABLE patrons ADD COLUMN birth_date TEXT;
ALTER TABLE patrons ADD COLUMN phone TEXT;
ALTER TABLE patrons ADD COLUMN email TEXT;
ALTER TABLE patrons ADD COLUMN keep_history INTEGER NOT NULL DEFAULT 0;
ALTER TABLE patrons ADD COLUMN registered_at INTEGER;
CREATE INDEX patrons_name ON patrons(name);
