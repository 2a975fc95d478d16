-- Rông central, schema 2: the catalogue imported from MARC.
-- `marc` holds the record's exact ISO 2709 bytes, so an export gives back every byte.
-- Records written before (or by `central seed`) have none and are not exported.
ALTER TABLE records ADD COLUMN marc BLOB;
