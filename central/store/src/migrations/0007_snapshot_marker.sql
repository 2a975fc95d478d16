-- Rông central, schema 7: snapshot markers in the change log.
-- A big MARC import does not log one change per record and item: each of its transactions
-- appends one row with scope 'snapshot' instead. A device whose version is below the newest
-- marker cannot catch up with deltas and is sent to the snapshot. The op column of a marker
-- holds a note, not an Op; catch-up never reads it (it starts at or above the marker).
CREATE INDEX changes_snapshot ON changes(version) WHERE scope = 'snapshot';
