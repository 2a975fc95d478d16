-- The network a central serves, as its administrators set it up (not only `central seed`):
-- its name, and each branch's English name, address and opening hours. Devices get the
-- branch as the protocol carries it (Vietnamese name, weekdays closed, PIN rule); the rest
-- stays here.
CREATE TABLE network (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE branches ADD COLUMN name_en TEXT NOT NULL DEFAULT '';
ALTER TABLE branches ADD COLUMN address TEXT NOT NULL DEFAULT '';
-- JSON: ISO weekday ("1" = Monday ... "7" = Sunday) -> [["07:30", "11:30"], ...]; a weekday
-- absent or empty is closed.
ALTER TABLE branches ADD COLUMN hours TEXT NOT NULL DEFAULT '{}';
