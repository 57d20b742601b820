#pragma once
// Several streams, one order (DESIGN §3 "Several streams", §11 "The id rule of several
// streams"): stream i of the N configured streams stores its Redis id <ms>-<seq> as
// <ms>-<seq*N+i>. With one stream that is the Redis id itself. Deterministic (the same list
// gives the same ids on every instance), total (ids of different streams never collide) and
// reversible: seq / N is the Redis sequence and seq % N the stream, so loss detection can
// compare a stored entry with the one Redis holds.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/cursor.hpp"

namespace cutover::ingest {

class stream_id_rule {
 public:
  explicit stream_id_rule(std::size_t streams) : n_(streams ? streams : 1) {}

  std::size_t streams() const noexcept { return n_; }

  // The stored id of Redis id `raw` of stream `index`, or nullopt when it cannot be stored
  // (its time or its scaled sequence does not fit the store).
  std::optional<stream_id> encode(stream_id raw, std::size_t index) const noexcept {
    const std::uint64_t n = n_, i = index;
    if (i >= n || raw.seq > (stream_id::kSeqTail - 1 - i) / n) return std::nullopt;
    stream_id stored{raw.ms, raw.seq * n + i};
    if (!stored.fits_store()) return std::nullopt;
    return stored;
  }

  struct origin {
    std::size_t index;  // which stream
    stream_id raw;      // its Redis id there
  };
  origin decode(stream_id stored) const noexcept {
    return {static_cast<std::size_t>(stored.seq % n_), {stored.ms, stored.seq / n_}};
  }

  // The smallest stored id above every stored id of stream `index` up to Redis id `raw`
  // (inclusive): where a re-read of that stream after `raw` resumes in the total order.
  stream_id after(stream_id raw, std::size_t index) const noexcept {
    auto e = encode(raw, index);
    return e ? e->next() : stream_id{raw.ms, stream_id::kSeqTail};
  }

 private:
  std::size_t n_;
};

}  // namespace cutover::ingest
