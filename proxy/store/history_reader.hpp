#pragma once
// The store's side of core/history.hpp: the reader pool runs history jobs on its reader
// connections. The app hands a pool_history to the server.

#include "core/history.hpp"
#include "store/reader_pool.hpp"

namespace cutover::store {

class pool_history final : public history {
 public:
  explicit pool_history(reader_pool& pool) : pool_(pool) {}
  bool read(job j) override;

 private:
  reader_pool& pool_;
};

}  // namespace cutover::store
