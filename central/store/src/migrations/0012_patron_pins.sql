-- PIN hashes leave the patron row, whose columns go to the devices, for a table only
-- central reads (docs/TRUST.md): boards learn whether a reader has a PIN, never its hash.
-- secure_delete zeroes the hashes' old bytes in the patron pages as the column goes.
PRAGMA secure_delete = ON;
CREATE TABLE patron_pins (
    card TEXT PRIMARY KEY REFERENCES patrons(card) ON DELETE CASCADE,
    hash TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO patron_pins (card, hash)
    SELECT card, pin_hash FROM patrons WHERE pin_hash IS NOT NULL;
ALTER TABLE patrons ADD COLUMN has_pin INTEGER NOT NULL DEFAULT 0;
UPDATE patrons SET has_pin = 1 WHERE pin_hash IS NOT NULL;
UPDATE patrons SET pin_hash = NULL;
ALTER TABLE patrons DROP COLUMN pin_hash;
PRAGMA secure_delete = OFF;

-- PINs typed at boards that could not ask central (offline), sealed to central's key,
-- waiting to be checked. Written with the `identify` event that carries one, in the same
-- transaction, and deleted when checked: each is checked once, even across a restart.
CREATE TABLE offline_pins (
    event_id TEXT PRIMARY KEY,
    device   TEXT NOT NULL,
    branch   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    card     TEXT NOT NULL,
    sealed   TEXT NOT NULL,
    at       INTEGER NOT NULL               -- ms since the epoch, device clock
) WITHOUT ROWID;
