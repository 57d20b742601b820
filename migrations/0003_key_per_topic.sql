-- Cutover store, schema version 3. Forward-only.
--
-- Idempotency keys are scoped per topic (DESIGN §3: "a second entry with the same key for
-- the same topic ... is stored once"). 0001's index made a key unique across all topics,
-- so the same key on another topic silently dropped that entry. Existing rows satisfy the
-- new index: they were unique on the key alone.
DROP INDEX notifications_by_key;
CREATE UNIQUE INDEX notifications_by_topic_key ON notifications (topic, idem_key)
  WHERE idem_key IS NOT NULL;
