// `cutover import --db PATH --profile FILE INPUT` (DESIGN §4 "Cutover day", §9): stores
// the old app's exported history with its own ids, before everything from Redis, so the
// old app's cursors resume in Cutover exactly where they were.
//
// Two passes over INPUT: the first checks every row and where the ids would go (and
// refuses, changing nothing, when they would not compare below new ids); the second
// stores the good rows in transactions of kBatch. Idempotent and resumable: a row already
// stored the same way is counted, not stored again, so a killed run is simply run again.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "app/cli_common.hpp"
#include "legacy_adapter/export_rows.hpp"
#include "store/importer.hpp"
#include "store/owner_lock.hpp"

namespace cutover::app {
namespace {

constexpr std::size_t kBatch = 1000;          // rows per transaction
constexpr std::size_t kMaxShownRejects = 50;  // rejected rows listed one by one

struct import_opts {
  std::string db;
  std::string profile;
  std::string input;
  std::string format = "auto";
  std::size_t progress_every = 100'000;
  std::size_t max_payload = 64 * 1024;
};

// The rows of INPUT, one at a time, with the line each starts on.
class row_source {
 public:
  row_source(const import_opts& o, const legacy::profile& p, bool csv)
      : o_(o), p_(p), csv_(csv), in_(o.input, std::ios::binary), reader_(in_) {
    if (!in_) throw runtime_failure("cannot read " + o.input);
    lim_.max_payload = o.max_payload;
    if (csv_) {
      std::vector<std::string> names;
      std::size_t line = 0;
      std::string why;
      auto got = reader_.next(names, line, why);
      if (got != legacy::csv_reader::outcome::record)
        throw runtime_failure(o.input + ":" + std::to_string(line) + ": " +
                              (got == legacy::csv_reader::outcome::end
                                   ? std::string("empty (a CSV export starts with its header)")
                                   : why));
      auto h = legacy::csv_header(names);
      if (auto* e = std::get_if<std::string>(&h))
        throw runtime_failure(o.input + ":" + std::to_string(line) + ": " + *e);
      cols_ = std::get<legacy::csv_columns>(h);
    }
  }

  // False at the end. A CSV file whose quoting breaks cannot be read on reliably: that
  // ends the import (exit 1) with the line, before anything is stored.
  bool next(std::size_t& line, legacy::row_result& row) {
    if (csv_) {
      std::string why;
      switch (reader_.next(fields_, line, why)) {
        case legacy::csv_reader::outcome::end:
          return false;
        case legacy::csv_reader::outcome::broken:
          throw runtime_failure(o_.input + ":" + std::to_string(line) + ": " + why);
        case legacy::csv_reader::outcome::record:
          row = legacy::parse_csv_row(fields_, cols_, p_, lim_);
          return true;
      }
    }
    std::string text;
    while (std::getline(in_, text)) {
      line = ++line_;
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      row = legacy::parse_ndjson_row(text, p_, lim_);
      return true;
    }
    if (in_.bad()) throw runtime_failure("cannot read " + o_.input);
    return false;
  }

 private:
  const import_opts& o_;
  const legacy::profile& p_;
  bool csv_;
  std::ifstream in_;
  legacy::csv_reader reader_;
  legacy::csv_columns cols_;
  std::vector<std::string> fields_;
  entry_limits lim_;
  std::size_t line_ = 0;
};

bool is_csv(const import_opts& o) {
  if (o.format == "csv") return true;
  if (o.format == "ndjson") return false;
  if (o.format != "auto") throw usage_failure("--format: expected auto, ndjson or csv");
  auto ext = std::filesystem::path(o.input).extension().string();
  if (ext == ".csv") return true;
  if (ext == ".ndjson" || ext == ".jsonl" || ext == ".json") return false;
  std::ifstream in(o.input, std::ios::binary);
  char c = 0;
  while (in.get(c))
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') break;
  return c != '{';
}

void run_import(const import_opts& o) {
  auto loaded = legacy::load_profile_file(o.profile);
  if (auto* e = std::get_if<legacy::profile_error>(&loaded)) throw usage_failure(e->text());
  const auto& p = std::get<legacy::profile>(loaded);
  const bool csv = is_csv(o);
  if (!std::filesystem::exists(o.input)) throw runtime_failure("cannot read " + o.input);

  // ---- pass 1: every row checked, nothing written
  std::size_t rows = 0, good = 0;
  std::uint64_t min_id = UINT64_MAX, max_id = 0;
  std::vector<std::pair<std::size_t, std::string>> rejected;
  {
    row_source src(o, p, csv);
    std::size_t line = 0;
    legacy::row_result r;
    while (src.next(line, r)) {
      ++rows;
      if (auto* why = std::get_if<std::string>(&r)) {
        rejected.emplace_back(line, *why);
        continue;
      }
      const auto& row = std::get<legacy::export_row>(r);
      ++good;
      min_id = std::min(min_id, row.legacy_id);
      max_id = std::max(max_id, row.legacy_id);
    }
  }

  std::filesystem::path dbp(o.db);
  if (dbp.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(dbp.parent_path(), ec);
  }
  // One writer per store (DESIGN §3): an import under a running serve is refused.
  auto owner = store::owner_lock::acquire(o.db, "import");
  if (!owner) throw runtime_failure(owner.err().message);
  auto im = store::importer::open(o.db);
  if (!im) throw runtime_failure(im.err().message);
  auto recorded = im->recorded_offset();
  if (!recorded) throw runtime_failure(recorded.err().message);
  if (*recorded && **recorded != p.id_offset)
    throw runtime_failure("refused: " + o.db + " was imported with id_offset " +
                          std::to_string(**recorded) + ", and " + o.profile + " says " +
                          std::to_string(p.id_offset) +
                          "; one deployment has one offset (use the same profile everywhere)");
  if (good > 0) {
    auto ingested = im->oldest_ingested();
    if (!ingested) throw runtime_failure(ingested.err().message);
    stream_id start = legacy::kNewIdsFloor;
    if (*ingested && **ingested < start) start = **ingested;
    auto v = legacy::check_offset(min_id, max_id, p.id_offset, start);
    if (!v.ok)
      throw runtime_failure("refused, nothing stored: " + v.why +
                            (v.suggest
                                 ? "; set \"id_offset\": " + std::to_string(*v.suggest) + " in " +
                                       o.profile + " and serve with that same profile"
                                 : std::string()));
  }

  // ---- pass 2: the good rows, kBatch per transaction
  std::size_t stored = 0, already = 0, seen = 0;
  auto report = [&](const char* what) {
    std::fprintf(stderr,
                 "cutover import: %s %zu of %zu rows: %zu stored, %zu already there, %zu "
                 "rejected\n",
                 what, seen, rows, stored, already, rejected.size());
  };
  {
    row_source src(o, p, csv);
    std::vector<store::import_row> batch;
    auto flush = [&] {
      if (batch.empty()) return;
      auto r = im->store(batch, p.id_offset);
      if (!r) throw runtime_failure(r.err().message);
      stored += r->stored;
      already += r->already;
      for (auto& c : r->conflicts) rejected.push_back(std::move(c));
      batch.clear();
    };
    std::size_t line = 0;
    legacy::row_result r;
    while (src.next(line, r)) {
      ++seen;
      if (auto* row = std::get_if<legacy::export_row>(&r)) {
        batch.push_back({legacy::stored_id(row->legacy_id, p.id_offset), std::move(row->topic),
                         std::move(row->type), std::move(row->data), row->time_ms, line});
        if (batch.size() >= kBatch) flush();
      }
      if (o.progress_every > 0 && seen % o.progress_every == 0 && seen < rows) {
        flush();  // the line only counts what is committed
        report("progress:");
      }
    }
    flush();
  }

  std::sort(rejected.begin(), rejected.end());
  for (std::size_t i = 0; i < rejected.size() && i < kMaxShownRejects; ++i)
    std::fprintf(stderr, "cutover import: %s:%zu: rejected: %s\n", o.input.c_str(),
                 rejected[i].first, rejected[i].second.c_str());
  if (rejected.size() > kMaxShownRejects)
    std::fprintf(stderr, "cutover import: ... and %zu more rejected rows\n",
                 rejected.size() - kMaxShownRejects);
  std::printf("cutover import: %s: %zu rows: %zu stored, %zu already there, %zu rejected\n",
              o.input.c_str(), rows, stored, already, rejected.size());
  std::fflush(stdout);
  if (!rejected.empty())
    throw runtime_failure(std::to_string(rejected.size()) +
                          " rows rejected (every other row is stored); fix them and run again");
}

}  // namespace

void add_import_command(CLI::App& app) {
  auto o = std::make_shared<import_opts>();
  auto* cmd = app.add_subcommand(
      "import",
      "Store the old app's exported history with its own ids, before everything from Redis "
      "(DESIGN §4, docs/migration.md)");
  add_db_option(*cmd, o->db);
  cmd->add_option("--profile", o->profile,
                  "The old app's legacy profile (its id_offset and import.time are used)")
      ->required();
  cmd->add_option("--format", o->format, "auto (by extension, else by content), ndjson or csv")
      ->capture_default_str();
  cmd->add_option("--progress-every", o->progress_every,
                  "Print a progress line every N rows (0: never)")
      ->capture_default_str();
  cmd->add_option("--max-payload", o->max_payload,
                  "Largest payload accepted, as serve's --max-payload (a larger row is rejected)")
      ->capture_default_str();
  cmd->add_option("INPUT", o->input,
                  "NDJSON or CSV export with id, user or topic, type, time and payload")
      ->required();
  cmd->callback([o] { run_import(*o); });
}

}  // namespace cutover::app
