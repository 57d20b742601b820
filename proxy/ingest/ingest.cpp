#include "ingest/ingest.hpp"

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "ingest/commit_worker.hpp"
#include "ingest/pubsub_reader.hpp"
#include "ingest/reader_context.hpp"
#include "ingest/status_board.hpp"
#include "ingest/stop_signal.hpp"
#include "ingest/stream_reader.hpp"
#include "ingest/switch_watcher.hpp"
#include "ingest/wal_checkpointer.hpp"
#include "ingest/work_queue.hpp"

namespace cutover::ingest {
namespace {

constexpr const char* kStreamsMetaKey = "streams";

// stream_start: "$" (nullopt: resolve the stream's end), "0", "<ms>-<seq>" or "<ms>".
result<std::optional<stream_id>> parse_stream_start(const std::string& text) {
  if (text == "$") return std::optional<stream_id>();
  if (auto id = parse_stream_id(text)) return std::optional<stream_id>(*id);
  if (!text.empty() && text.size() <= 20 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (auto id = parse_stream_id(text + "-0")) return std::optional<stream_id>(*id);
  }
  return error{"stream_start '" + text.substr(0, 64) +
               "' is not 0, $ or a stream id like 1700000000000-0"};
}

}  // namespace

std::optional<std::string> stream_start_problem(const std::string& text) {
  auto r = parse_stream_start(text);
  if (r) return std::nullopt;
  return r.err().message;
}

struct ingest::impl {
  impl(options o, commit_listener& l)
      : opt(std::move(o)),
        listener(l),
        log("ingest", opt.log),
        queue(opt.queue_bytes),
        board(opt.streams, !opt.streams.empty(), opt.pubsub) {}

  options opt;
  commit_listener& listener;
  core::logger log;
  // Declared before `writer`: the writer connection's WAL hook points at it.
  wal_checkpointer checkpointer{log, opt.wal_checkpoint_pages, opt.wal_inline_checkpoint_pages};
  stop_signal stop;
  work_queue queue;
  status_board board;
  redis_endpoint endpoint;
  std::optional<redis_endpoint> read_endpoint;  // --redis-read

  std::unique_ptr<stream_reader> reader;
  std::unique_ptr<pubsub_reader> pubsub;
  std::unique_ptr<commit_worker> writer;
  switch_signal switches;                   // Sentinel URLs only
  std::unique_ptr<switch_watcher> watcher;  // Sentinel URLs only
  std::thread reader_thread, pubsub_thread, writer_thread, watcher_thread;

  std::mutex control;
  bool started = false;
  bool stopped = false;

  std::unique_ptr<delivery_gate> gate;  // delivery before the commit (DESIGN §11)

  reader_context context() {
    reader_context c{opt, endpoint, queue, board, log, stop};
    if (read_endpoint) c.read_endpoint = &*read_endpoint;
    if (watch_switches()) c.switches = &switches;
    c.gate = gate.get();
    c.listener = &listener;
    return c;
  }
  // The watcher follows the master (--redis): the bridge always, the stream reader when it
  // reads from the master (not a --redis-read replica).
  bool watch_switches() const { return endpoint.kind == redis_endpoint::transport::sentinel; }
};

ingest::ingest(options opt, commit_listener& listener)
    : impl_(std::make_unique<impl>(std::move(opt), listener)) {}

ingest::~ingest() {
  stop();
}

status ingest::start() {
  impl& m = *impl_;
  std::lock_guard lk(m.control);
  if (m.started) return error{"ingest already started"};
  const options& o = m.opt;

  if (o.streams.empty()) return error{"nothing to ingest: no stream"};
  if (o.pubsub && o.pubsub_lock_ttl.count() < 30)
    return error{"the pub/sub bridge lock TTL must be at least 30 ms"};
  std::set<std::string> seen;
  for (const auto& s : o.streams) {
    if (s.empty()) return error{"empty stream key"};
    if (!seen.insert(s).second) return error{"stream '" + s + "' given twice"};
  }
  if (o.batch == 0) return error{"batch (XREAD COUNT) must be at least 1"};
  // BLOCK 0 would mean "forever" to Redis: no deadline, no prompt stop.
  if (o.block.count() <= 0) return error{"block (XREAD BLOCK) must be at least 1 ms"};
  auto ep = parse_redis_url(o.redis_url);
  if (!ep) return ep.err();
  m.endpoint = *ep;
  if (!o.redis_read_url.empty()) {
    auto rep = parse_redis_url(o.redis_read_url);
    if (!rep) return error{"--redis-read: " + rep.err().message, rep.err().code};
    m.read_endpoint = *rep;
  }
  auto start_at = parse_stream_start(o.stream_start);
  if (!start_at) return start_at.err();

  auto w = store::writer::open(o.db_path, o.store);
  if (!w) return error{"cannot open store '" + o.db_path + "': " + w.err().message, w.err().code};
  if (auto st = w->tune(o.store_cache_kib); !st)
    m.log.line("warning: " + st.err().message + "; continuing with SQLite defaults");
  auto r = store::reader::open(o.db_path, o.store);
  if (!r) return error{"cannot open store '" + o.db_path + "': " + r.err().message, r.err().code};
  auto head = r->head();
  if (!head) return head.err();
  stream_id newest = head->value_or(stream_id{});
  // A store that already holds an id ahead of the clock stays not ready until it passes.
  if (*head) {
    auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    if (newest.ms > stream_id::kMaxMs ||
        newest.ms >
            now + static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.max_clock_skew.count())))
      m.board.add_ids_ahead(0, newest);
  }

  // The id rule of several streams depends on the list and its order (DESIGN §11): a store
  // that holds entries keeps the list it was ingested with.
  std::string list;
  for (const auto& k : o.streams) list += (list.empty() ? "" : "\n") + k;
  auto listed = r->meta(kStreamsMetaKey);
  if (!listed) return listed.err();
  if (*listed && **listed != list) {
    auto st = r->status();
    if (!st) return st.err();
    if (st->notifications > 0 || !st->offsets.empty()) {
      std::string was = **listed;
      std::replace(was.begin(), was.end(), '\n', ' ');
      std::string now = list;
      std::replace(now.begin(), now.end(), '\n', ' ');
      return error{"store '" + o.db_path + "' was ingested from the streams [" + was +
                   "], in that order; this instance is given [" + now +
                   "]: stored ids depend on the list (DESIGN §11), so give the same list or "
                   "start from a new store"};
    }
  }
  if (!*listed || **listed != list)
    if (auto st = w->put_meta(kStreamsMetaKey, list); !st) return st.err();

  // A digest that misses stored entries (a store migrated from schema 4) is rebuilt once, or
  // said not to be comparable (DESIGN §11).
  for (std::size_t i = 0; i < o.streams.size(); ++i) {
    auto basis = w->settle_digest(o.streams[i], o.streams.size(), i);
    if (!basis) return basis.err();
    if (*basis) {
      m.board.set_digest_basis(i, **basis);
      m.log.line(std::string(basis->value().comparable ? "" : "warning: ") + o.streams[i] +
                 ": ingest digest " + basis->value().note);
    }
  }
  auto digests = r->digests();
  if (!digests) return digests.err();
  for (std::size_t i = 0; i < o.streams.size(); ++i)
    if (auto d = digests->find(o.streams[i]); d != digests->end()) m.board.set_digest(i, d->second);
  auto oldest = r->oldest_time();
  if (!oldest) return oldest.err();
  m.board.set_oldest(*oldest);

  std::vector<std::optional<stream_id>> start(o.streams.size());
  for (std::size_t i = 0; i < o.streams.size(); ++i) {
    auto off = r->offset(o.streams[i]);
    if (!off) return off.err();
    if (*off) {
      start[i] = **off;
      m.board.set_committed(i, **off);
    } else {
      start[i] = *start_at;
    }
  }

  // Last fallible step, so a failed start() leaves no thread behind.
  if (auto st = m.checkpointer.start(o.db_path); !st)
    return error{"cannot open store '" + o.db_path + "' for checkpoints: " + st.err().message,
                 st.err().code};
  m.checkpointer.attach(w->db());

  if (o.pubsub)
    m.log.line("warning: pub/sub (PSUBSCRIBE " + std::string(kPubsubPattern) +
               ") is fire-and-forget: one instance at a time (the bridge, lock " +
               pubsub_bridge_key(o.streams.front()) + ") copies each message into " +
               o.streams.front() +
               ", and messages published while no bridge is subscribed (at start, or while the "
               "bridge hands over) are lost; publish with XADD to a stream where that matters");

  if (o.deliver_before_commit) {
    // The gate asks the store on a connection of its own (the stream reader thread's).
    auto gr = store::reader::open(o.db_path, o.store);
    if (!gr)
      return error{"cannot open store '" + o.db_path + "': " + gr.err().message, gr.err().code};
    m.gate = std::make_unique<delivery_gate>(std::move(*gr), *head);
  }
  m.writer = std::make_unique<commit_worker>(std::move(*w), m.opt, m.queue, m.board, m.log,
                                             m.listener, m.gate.get());
  m.writer_thread = std::thread([&m] { m.writer->run(); });
  if (m.watch_switches()) {
    m.watcher = std::make_unique<switch_watcher>(m.context(), m.switches);
    m.watcher_thread = std::thread([&m] {
      block_sigpipe_on_this_thread();
      m.watcher->run();
    });
  }
  if (!o.streams.empty()) {
    m.reader = std::make_unique<stream_reader>(m.context(), std::move(start));
    m.reader_thread = std::thread([&m] {
      block_sigpipe_on_this_thread();
      m.reader->run();
    });
  }
  if (o.pubsub) {
    m.pubsub = std::make_unique<pubsub_reader>(m.context());
    m.pubsub_thread = std::thread([&m] {
      block_sigpipe_on_this_thread();
      m.pubsub->run();
    });
  }
  m.started = true;
  return ok_status();
}

void ingest::stop() {
  impl& m = *impl_;
  std::lock_guard lk(m.control);
  if (!m.started || m.stopped) return;
  m.stopped = true;
  m.stop.request();
  if (m.reader_thread.joinable()) m.reader_thread.join();
  if (m.pubsub_thread.joinable()) m.pubsub_thread.join();
  if (m.watcher_thread.joinable()) m.watcher_thread.join();
  // The readers are gone; the writer commits what they queued, then returns.
  m.queue.close();
  if (m.writer_thread.joinable()) m.writer_thread.join();
  m.checkpointer.stop();
  m.board.set_link(link_kind::stream, link_state::stopped);
  m.board.set_link(link_kind::pubsub, link_state::stopped);
  m.board.set_stopped();
  auto s = m.board.snapshot();
  m.log.line("stopped" + (s.committed ? "; committed up to " + s.committed->str() : std::string()));
}

stats ingest::snapshot() const {
  auto s = impl_->board.snapshot();
  if (impl_->gate) s.pending = impl_->gate->pending();
  return s;
}

}  // namespace cutover::ingest
