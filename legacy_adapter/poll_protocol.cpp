#include "legacy_adapter/poll_protocol.hpp"

namespace cutover::legacy {

cut cut_batch(std::span<const notification_ptr> entries, std::size_t batch, bool complete) {
  if (entries.size() <= batch) {
    // Everything read fits; but if the read was cut by its own limit, the last group may
    // continue past it.
    if (complete || entries.empty()) return {entries.size(), false};
    std::uint64_t last = entries.back()->legacy_id();
    std::size_t start = entries.size();
    while (start > 0 && entries[start - 1]->legacy_id() == last) --start;
    if (start > 0) return {start, false};
    return {entries.size(), true};
  }
  std::uint64_t boundary = entries[batch - 1]->legacy_id();
  if (entries[batch]->legacy_id() != boundary) return {batch, false};
  std::size_t start = batch - 1;
  while (start > 0 && entries[start - 1]->legacy_id() == boundary) --start;
  if (start > 0) return {start, false};
  // The group starts the batch: send all of it, reading on if the read ended inside it.
  std::size_t end = batch;
  while (end < entries.size() && entries[end]->legacy_id() == boundary) ++end;
  if (end == entries.size() && !complete) return {end, true};
  return {end, false};
}

std::uint64_t last_id_for(std::span<const notification_ptr> sent, std::uint64_t since,
                          std::optional<stream_id> head, std::uint64_t head_ingested_ms,
                          std::uint64_t now_ms) {
  if (sent.empty()) return since;
  const stream_id& last = sent.back()->id;
  if (last.seq < stream_id::kLegacyTail) return last.legacy_id();
  if (!tail_may_grow(last, head, head_ingested_ms, now_ms)) return last.legacy_id();
  return last.ms * 1024 + (stream_id::kLegacyTail - 1);
}

bool tail_may_grow(const stream_id& last, std::optional<stream_id> head,
                   std::uint64_t head_ingested_ms, std::uint64_t now_ms) {
  bool stream_moved_on = head && head->ms > last.ms;
  bool ingest_quiet = now_ms >= head_ingested_ms + kTailOpenMs;
  return !stream_moved_on && !ingest_quiet;
}

std::size_t before_last_group(std::span<const notification_ptr> sent) {
  if (sent.empty()) return 0;
  std::uint64_t last = sent.back()->legacy_id();
  std::size_t start = sent.size();
  while (start > 0 && sent[start - 1]->legacy_id() == last) --start;
  return start;
}

}  // namespace cutover::legacy
