-- Cutover store, schema version 2. Forward-only.
--
-- Entries imported from the old app by `cutover import` (DESIGN §4, "Cutover day") keep
-- the time the old app exported with them: kept_ms (unix ms). It is NULL for every entry
-- ingested from Redis, whose time is its stream id's milliseconds. createdAt and age
-- retention use kept_ms when it is set, so an import is not pruned as 1970.
-- (created_at stays what 0001 says: the wall time the row was stored.)
ALTER TABLE notifications ADD COLUMN kept_ms INTEGER;
CREATE INDEX notifications_by_kept_time ON notifications (kept_ms) WHERE kept_ms IS NOT NULL;
