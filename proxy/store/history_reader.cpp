#include "store/history_reader.hpp"

namespace cutover::store {

namespace {
class reader_view final : public history_reader {
 public:
  explicit reader_view(reader& r) : r_(r) {}
  result<notification_batch> read_after(std::span<const std::string> topics, stream_id after,
                                        std::size_t limit) override {
    return r_.read_after(topics, after, limit);
  }
  result<std::optional<stream_id>> oldest(const std::string& topic) override {
    return r_.oldest(topic);
  }
  result<bool> kept_after_loss(stream_id id) override { return r_.kept_after_loss(id); }

 private:
  reader& r_;
};
}  // namespace

bool pool_history::read(job j) {
  return pool_.submit([j = std::move(j)](reader& r) {
    reader_view v(r);
    j(v);
  });
}

}  // namespace cutover::store
