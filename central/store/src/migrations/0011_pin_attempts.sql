-- Wrong PINs per card, counted by central for every device of every branch, so a lockout
-- holds wherever the reader tries next. A right PIN clears the row.
CREATE TABLE pin_attempts (
    card         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
);
