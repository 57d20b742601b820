-- Cutover store, schema version 1. Forward-only: never edit once landed; add 0002_*.sql.

-- One row per stored notification. (ms, seq) is the Redis stream id, the cursor of
-- every transport. created_at is the wall time the row was stored (unix ms).
CREATE TABLE notifications (
  id         INTEGER PRIMARY KEY,
  ms         INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  topic      TEXT    NOT NULL,
  type       TEXT    NOT NULL DEFAULT '',
  data       TEXT    NOT NULL,
  idem_key   TEXT,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX notifications_by_id ON notifications (ms, seq);
CREATE INDEX notifications_by_topic ON notifications (topic, ms, seq);
CREATE UNIQUE INDEX notifications_by_key ON notifications (idem_key) WHERE idem_key IS NOT NULL;

-- Per topic: how many rows are retained, and the newest id retention removed (so a
-- cursor at or before it is known to be expired).
CREATE TABLE topics (
  topic      TEXT PRIMARY KEY,
  count      INTEGER NOT NULL DEFAULT 0,
  pruned_ms  INTEGER,
  pruned_seq INTEGER
) WITHOUT ROWID;

-- Entries ingest could not keep, with the reason; never silently dropped.
CREATE TABLE dead_letters (
  id         INTEGER PRIMARY KEY,
  source     TEXT    NOT NULL,   -- stream key, or pubsub channel
  entry_id   TEXT    NOT NULL,   -- stream id, or '' for pub/sub
  raw        TEXT    NOT NULL,   -- the entry's fields as JSON
  reason     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);

-- Last stream id committed per stream key, written in the same transaction as the
-- entries it covers, so a restart resumes exactly there.
CREATE TABLE ingest_offsets (
  stream     TEXT PRIMARY KEY,
  ms         INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
