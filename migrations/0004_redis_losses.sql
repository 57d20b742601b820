-- Cutover store, schema version 4. Forward-only.
--
-- A loss by Redis is never silent (DESIGN §3): after a failover or a restart Redis may no
-- longer hold entries this store already took from it, and may reuse their ids. Ingest then
-- moves those entries here, out of `notifications` (so the ids are free for what Redis holds
-- now), with the stream they came from and their Redis id; `cutover replay --orphans` lists
-- and republishes them. `ms`/`seq` is the stored id (DESIGN §11, the id rule of several
-- streams), `entry_id` the Redis id.
CREATE TABLE orphans (
  id          INTEGER PRIMARY KEY,
  stream      TEXT    NOT NULL,
  entry_id    TEXT    NOT NULL,
  ms          INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  topic       TEXT    NOT NULL,
  type        TEXT    NOT NULL DEFAULT '',
  data        TEXT    NOT NULL,
  idem_key    TEXT,
  created_at  INTEGER NOT NULL,   -- when it was first stored (unix ms)
  orphaned_at INTEGER NOT NULL,   -- when Redis was found to have lost it
  reason      TEXT    NOT NULL
);
CREATE INDEX orphans_by_id ON orphans (ms, seq);

-- Lost and skipped ranges, kept like retention marks: a cursor strictly inside one (after
-- `after`, before `through`) is expired. kind 'lost': Redis lost entries this store had (they
-- are in orphans); 'trimmed': Redis trimmed entries before this store read them. Ids are
-- stored ids; `after` is the last entry both sides agree on.
CREATE TABLE lost_ranges (
  id          INTEGER PRIMARY KEY,
  stream      TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  after_ms    INTEGER NOT NULL,
  after_seq   INTEGER NOT NULL,
  through_ms  INTEGER NOT NULL,
  through_seq INTEGER NOT NULL,
  entries     INTEGER NOT NULL,   -- entries moved to orphans (0 for a trim: never read)
  detected_at INTEGER NOT NULL,
  detail      TEXT    NOT NULL
);
CREATE INDEX lost_ranges_by_end ON lost_ranges (through_ms, through_seq);
