// store_bench: raw speed of the SQLite notification store, without Redis or the network.
//
//   store_bench [--entries N] [--topics LIST] [--payload BYTES] [--reads N] [--rounds N]
//               [--db-dir DIR] [--json PATH]
//
// For each topic count (default 1, 100, 1000: entries spread round-robin over them) and
// each batch size (1, 100, 1000) it appends N notifications to a fresh store through
// store::writer::append (one transaction per batch, ingest offset included), set up as
// `cutover serve` sets up its writer: the same page cache, WAL checkpoints on a thread of
// their own. Then it times range reads on the last store (the largest topic count):
// read_after() for one topic, and for eight topics merged in id order, each from a random
// cursor with limit 100, as a reconnecting client or a legacy poll does. Every figure is
// the median of --rounds runs, each on a fresh file. Prints a table, writes JSON.
//
// Topic count matters: every new row also goes into the (topic, ms, seq) index, and a
// transaction rewrites each index page it touched. A batch spread over 1000 topics
// touches ~1000 pages, one over a single topic a handful.

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "ingest/wal_checkpointer.hpp"
#include "store/store.hpp"

namespace {

using namespace cutover;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "store_bench: %s\n", why.c_str());
  std::exit(1);
}

struct bench_opts {
  std::size_t entries = 200'000;
  std::vector<std::size_t> topic_counts{1, 100, 1000};
  std::size_t topics = 1000;  // the store being read
  std::size_t payload = 100;
  std::size_t reads = 20'000;
  std::size_t rounds = 3;
  std::string dir;
  std::string json_path;
};

std::size_t parse_count(const std::string& flag, const char* v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (!*v || *end || n == 0) die(flag + ": expected a positive integer, got '" + v + "'");
  return static_cast<std::size_t>(n);
}

bench_opts parse_args(int argc, char** argv) {
  bench_opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--entries")
      o.entries = parse_count(a, value());
    else if (a == "--topics") {
      o.topic_counts.clear();
      std::string list = value();
      for (std::size_t pos = 0; pos <= list.size();) {
        auto comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        o.topic_counts.push_back(parse_count(a, list.substr(pos, comma - pos).c_str()));
        pos = comma + 1;
      }
    } else if (a == "--payload")
      o.payload = parse_count(a, value());
    else if (a == "--reads")
      o.reads = parse_count(a, value());
    else if (a == "--rounds")
      o.rounds = parse_count(a, value());
    else if (a == "--db-dir")
      o.dir = value();
    else if (a == "--json")
      o.json_path = value();
    else if (a == "--help" || a == "-h") {
      std::printf(
          "store_bench [--entries N] [--topics LIST] [--payload BYTES] [--reads N] [--rounds N]\n"
          "            [--db-dir DIR] [--json PATH]\n"
          "Appends N notifications (default 200000) spread over each topic count of LIST\n"
          "(default 1,100,1000) in batches of 1, 100 and 1000 to fresh stores, then times\n"
          "range reads (limit 100) for one topic and for eight topics. Medians of --rounds.\n");
      std::exit(0);
    } else
      die("unknown argument '" + a + "' (see --help)");
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string topic_name(std::size_t i) {
  return "user:" + std::to_string(i);
}

// Appends `entries` notifications in batches of `batch`; returns notifications/s.
double append_run(const std::string& path, const bench_opts& o, std::size_t batch) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  if (auto m = store::open_and_migrate(path); !m) die(m.err().message);
  // As `cutover serve` runs its writer: its page cache (--store-cache-mb, default 32) and
  // checkpoints off the writer thread.
  core::logger quiet{"bench"};
  ingest::wal_checkpointer checkpointer(quiet, 1000, 25000);
  auto w = store::writer::open(path);
  if (!w) die(w.err().message);
  if (auto st = w->tune(32 * 1024); !st) die(st.err().message);
  if (auto st = checkpointer.start(path); !st) die(st.err().message);
  checkpointer.attach(w->db());
  std::string data(o.payload + 2, 'x');  // a JSON string of `payload` characters
  data.front() = data.back() = '"';
  const std::string_view source = "cutover:notifications";
  std::uint64_t ms = 1'700'000'000'000;
  auto start = clock_type::now();
  for (std::size_t done = 0; done < o.entries;) {
    store::append_batch b;
    std::size_t n = std::min(batch, o.entries - done);
    b.entries.reserve(n);
    for (std::size_t i = 0; i < n; ++i, ++done) {
      // Ten entries per millisecond, as a busy stream gives.
      stream_id id{ms + done / 10, done % 10};
      b.entries.push_back({id,
                           decoded_entry{topic_name(done % o.topics), "bench", data, std::nullopt},
                           source, nullptr});
    }
    b.offsets.push_back({std::string(source), b.entries.back().id});
    auto r = w->append(b);
    if (!r) die(r.err().message);
    if (r->added.size() != n)
      die("append stored " + std::to_string(r->added.size()) + " of " + std::to_string(n));
  }
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  return static_cast<double>(o.entries) / secs;
}

struct read_figures {
  double reads_per_s = 0;
  double rows_per_s = 0;
};

// Range reads from random cursors over the store `path` (filled by append_run).
read_figures read_run(const std::string& path, const bench_opts& o, std::size_t topics_per_read,
                      unsigned seed) {
  auto r = store::reader::open(path);
  if (!r) die(r.err().message);
  std::mt19937_64 rng(seed);
  const std::uint64_t first_ms = 1'700'000'000'000, span_ms = o.entries / 10;
  std::vector<std::string> topics(topics_per_read);
  std::size_t rows = 0;
  auto start = clock_type::now();
  for (std::size_t i = 0; i < o.reads; ++i) {
    for (auto& t : topics) t = topic_name(rng() % o.topics);
    stream_id after{first_ms + rng() % span_ms, 0};
    auto got = r->read_after(topics, after, 100);
    if (!got) die(got.err().message);
    rows += got->size();
  }
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  return {static_cast<double>(o.reads) / secs, static_cast<double>(rows) / secs};
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_args(argc, argv);
  std::filesystem::path dir = o.dir.empty()
                                  ? std::filesystem::temp_directory_path() / "cutover-store-bench"
                                  : std::filesystem::path(o.dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bench.db").string();

  std::printf("store_bench: %zu entries, %zu-byte payload, %zu rounds, file %s\n", o.entries,
              o.payload, o.rounds, path.c_str());
  boost::json::object out;
  out["entries"] = o.entries;
  out["payload_bytes"] = o.payload;
  out["rounds"] = o.rounds;
  boost::json::object appends;
  for (std::size_t topics : o.topic_counts) {
    boost::json::object per_batch;
    for (std::size_t batch : {std::size_t{1}, std::size_t{100}, std::size_t{1000}}) {
      // Batch 1 is one WAL commit per entry: cap its run so a round stays short.
      bench_opts run = o;
      run.topics = topics;
      if (batch == 1) run.entries = std::min<std::size_t>(o.entries, 20'000);
      std::vector<double> rates;
      for (std::size_t i = 0; i < o.rounds; ++i) rates.push_back(append_run(path, run, batch));
      double m = median(rates);
      std::printf(
          "  append, %5zu topics, batch %4zu: %10.0f notifications/s (median; %zu entries per "
          "round)\n",
          topics, batch, m, run.entries);
      per_batch[std::to_string(batch)] = m;
    }
    appends[std::to_string(topics) + "_topics"] = per_batch;
  }
  out["append_per_s"] = appends;

  // The last append_run left a full store of o.entries rows over the last topic count.
  o.topics = o.topic_counts.back();
  out["read_topics"] = o.topics;
  boost::json::object reads;
  for (std::size_t k : {std::size_t{1}, std::size_t{8}}) {
    std::vector<double> rps, rows;
    for (std::size_t i = 0; i < o.rounds; ++i) {
      auto f = read_run(path, o, k, static_cast<unsigned>(i + 1));
      rps.push_back(f.reads_per_s);
      rows.push_back(f.rows_per_s);
    }
    std::printf("  range read, %zu topic%s, limit 100: %9.0f reads/s, %10.0f rows/s (median)\n", k,
                k == 1 ? "" : "s", median(rps), median(rows));
    boost::json::object f;
    f["reads_per_s"] = median(rps);
    f["rows_per_s"] = median(rows);
    reads[std::to_string(k) + "_topics"] = f;
  }
  out["range_reads"] = reads;

  if (!o.json_path.empty()) {
    std::ofstream js(o.json_path);
    js << boost::json::serialize(out) << "\n";
    if (!js) die("cannot write " + o.json_path);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return 0;
}
