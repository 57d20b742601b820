#include "net/push_carrier.hpp"

namespace cutover::net {
namespace asio = boost::asio;

namespace {
io_status status_of(const boost::system::error_code& ec) {
  if (!ec) return io_status::ok;
  if (ec == asio::error::would_block || ec == asio::error::try_again) return io_status::would_block;
  return io_status::failed;
}
}  // namespace

socket_carrier::socket_carrier(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  socket_.non_blocking(true,
                       ec);  // reads and writes try the socket first, wait only when they must
}

void socket_carrier::bind(push_session& s, std::uint64_t generation) {
  owner_ = &s;
  generation_ = generation;
}

std::size_t socket_carrier::write(std::span<const asio::const_buffer> bufs, io_status& st) {
  boost::system::error_code ec;
  std::size_t n = socket_.write_some(bufs, ec);
  st = status_of(ec);
  return st == io_status::ok ? n : 0;
}

std::size_t socket_carrier::read(std::span<char> into, io_status& st) {
  boost::system::error_code ec;
  std::size_t n = socket_.read_some(asio::buffer(into.data(), into.size()), ec);
  st = ec == asio::error::eof ? io_status::ok : status_of(ec);
  return st == io_status::ok ? n : 0;
}

void socket_carrier::wait_writable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_write,
                     [self = owner_->shared_from_this(), g = generation_](
                         boost::system::error_code ec) { self->on_writable(g, !ec); });
}

void socket_carrier::wait_readable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = owner_->shared_from_this(), g = generation_](
                         boost::system::error_code ec) { self->on_readable(g, !ec); });
}

void socket_carrier::shutdown_send() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void socket_carrier::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

shard_host::shard_host(shard& sh) : shard_(sh) {
  const auto& opt = sh.ctx().opt;
  limits_.queue_bytes = opt.ws_queue_bytes;
  limits_.fetch_page = opt.fetch_page;
  limits_.stall_timeout = opt.stall_timeout;
}

void shard_host::subscribe(push_session& s, topic_list topics) {
  shard_.subscribe(s, std::move(topics));
}
void shard_host::unsubscribe(push_session& s) {
  shard_.unsubscribe(s);
}
void shard_host::track(push_session& s) {
  shard_.track(s);
}
void shard_host::untrack(push_session& s) {
  shard_.untrack(s);
}
std::optional<stream_id> shard_host::head() const {
  return shard_.ctx().hub_->head();
}

std::optional<fetch_result> shard_host::fetch(const topic_list& topics, stream_id after,
                                              std::size_t limit,
                                              std::function<void(fetch_result)> later,
                                              read_claim_ptr claim) {
  if (auto r = fetch_from_memory(shard_, topics, after, limit)) return r;
  fetch_from_store(shard_, topics, after, limit, std::move(later), std::move(claim));
  return std::nullopt;
}

void shard_host::read_failed(std::string_view why) {
  shard_.ctx().store_read_failures.line(std::string(why));
}

std::span<char> shard_host::scratch() {
  return shard_.scratch();
}

}  // namespace cutover::net
