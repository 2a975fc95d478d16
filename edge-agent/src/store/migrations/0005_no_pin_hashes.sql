-- Edge-agent schema 5: PIN hashes leave the board (docs/TRUST.md). Central checks every
-- PIN; offline, the board seals the typed PIN for central to check later. The board keeps
-- only whether a reader has a PIN. secure_delete zeroes the old hashes' bytes.
PRAGMA secure_delete = ON;
ALTER TABLE patrons ADD COLUMN has_pin INTEGER NOT NULL DEFAULT 0;
UPDATE patrons SET has_pin = 1 WHERE pin_hash IS NOT NULL;
UPDATE patrons SET pin_hash = NULL;
ALTER TABLE patrons DROP COLUMN pin_hash;
PRAGMA secure_delete = OFF;
