-- Cutover store, schema version 5. Forward-only.
--
-- A rolling digest of what ingest stored from each stream (DESIGN §3 "Each instance also
-- exports a rolling digest", DESIGN §11): the sum, modulo 2^64, of a 64-bit hash of every
-- stored entry's (id, topic, type, data), and how many entries it covers. Written in the same
-- transaction as the offset, so two instances at the same offset can be compared, also after
-- a restart; a rewind subtracts the entries it moves to orphans. Stored as the signed 64-bit
-- integer with the same bits. A store migrated from version 4 starts both at 0 (entries stored
-- before this migration are not in it).
ALTER TABLE ingest_offsets ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ingest_offsets ADD COLUMN digest_entries INTEGER NOT NULL DEFAULT 0;
