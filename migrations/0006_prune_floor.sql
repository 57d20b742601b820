-- Cutover store, schema version 6. Forward-only.
--
-- Retention marks are folded (DESIGN §11, "Prune marks are folded"): a topic's mark older
-- than the oldest retained entry of the whole store says no more than one store-wide floor
-- (meta 'prune_floor', "<ms>-<seq>"): a cursor before it is expired whatever its topics.
-- Such marks are cleared, and a topic row left with no entries and no mark is removed, so
-- the marks no longer grow with every topic that ever aged out. This index finds the
-- marks below a bound without reading every topic.
CREATE INDEX topics_by_prune_mark ON topics (pruned_ms, pruned_seq) WHERE pruned_ms IS NOT NULL;
