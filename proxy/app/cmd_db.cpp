// `cutover db migrate|status|snapshot` (DESIGN §9, §11).

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "app/cli_common.hpp"
#include "store/store.hpp"

namespace cutover::app {
namespace {

void ensure_parent_dir(const std::string& path) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec)
      throw runtime_failure("cannot create directory '" + p.parent_path().string() +
                            "': " + ec.message());
  }
}

std::string id_or_none(const std::optional<stream_id>& id) {
  return id ? id->str() + " (" + iso8601_utc(id->ms) + ")" : std::string("none");
}

}  // namespace

void add_db_commands(CLI::App& app) {
  auto* db = app.add_subcommand("db", "Create, migrate and inspect the SQLite store");
  db->require_subcommand(1);

  struct opts {
    std::string path;
  };
  auto o = std::make_shared<opts>();

  auto* migrate =
      db->add_subcommand("migrate", "Create the store if missing and apply pending migrations");
  add_db_option(*migrate, o->path);
  migrate->callback([o] {
    ensure_parent_dir(o->path);
    store::migrate_report report;
    auto h = store::open_and_migrate(o->path, {}, &report);
    if (!h) throw runtime_failure(h.err().message);
    if (report.from_version == report.to_version)
      std::printf("%s: schema version %d, up to date\n", o->path.c_str(), report.to_version);
    else
      std::printf("%s: migrated schema version %d -> %d\n", o->path.c_str(), report.from_version,
                  report.to_version);
  });

  auto* status =
      db->add_subcommand("status",
                         "Print schema version, counts, oldest/newest id and ingest offsets "
                         "(creates and migrates a missing store)");
  add_db_option(*status, o->path);
  status->callback([o] {
    ensure_parent_dir(o->path);
    {
      auto h = store::open_and_migrate(o->path);
      if (!h) throw runtime_failure(h.err().message);
    }
    auto r = store::reader::open(o->path);
    if (!r) throw runtime_failure(r.err().message);
    auto st = r->status();
    if (!st) throw runtime_failure(st.err().message);
    std::printf("database: %s\n", o->path.c_str());
    std::printf("schema version: %d (this binary: %d)\n", st->schema_version,
                store::latest_version(store::embedded_migrations()));
    std::printf("notifications: %lld in %lld topics\n", static_cast<long long>(st->notifications),
                static_cast<long long>(st->topics));
    std::printf("dead letters: %lld\n", static_cast<long long>(st->dead_letters));
    std::printf("oldest: %s\n", id_or_none(st->oldest).c_str());
    std::printf("newest: %s\n", id_or_none(st->newest).c_str());
    if (st->offsets.empty()) std::printf("ingest offsets: none\n");
    for (const auto& off : st->offsets) {
      auto d = st->digests.find(off.stream);
      store::stream_digest dg = d == st->digests.end() ? store::stream_digest{} : d->second;
      std::printf("ingest offset %s: %s digest %s over %lld entries\n", off.stream.c_str(),
                  off.id.str().c_str(), store::digest_hex(dg.value).c_str(),
                  static_cast<long long>(dg.entries));
      // Stream i of the recorded list is every entry with seq % N == i (DESIGN §11).
      std::uint64_t n = 1, i = 0;
      if (auto listed = r->meta("streams"); listed && *listed) {
        std::vector<std::string> names;
        std::string rest = **listed;
        for (std::size_t at = 0; at <= rest.size();) {
          auto end = rest.find('\n', at);
          names.push_back(rest.substr(at, end == std::string::npos ? std::string::npos : end - at));
          at = end == std::string::npos ? rest.size() + 1 : end + 1;
        }
        auto it = std::find(names.begin(), names.end(), off.stream);
        if (it != names.end()) n = names.size(), i = static_cast<std::uint64_t>(it - names.begin());
      }
      auto basis = r->digest_basis_of(off.stream, n, i);
      if (!basis) throw runtime_failure(basis.err().message);
      if (*basis) std::printf("  digest %s\n", (*basis)->note.c_str());
    }
  });

  auto out = std::make_shared<std::string>();
  auto* snap = db->add_subcommand(
      "snapshot",
      "Write a consistent copy of the store to OUT (a new file) while serve may keep running; a "
      "new instance started from the copy continues ingest from its offsets");
  add_db_option(*snap, o->path);
  snap->add_option("out", *out, "The copy to create (must not exist)")->required();
  snap->callback([o, out] {
    std::error_code ec;
    if (std::filesystem::exists(*out, ec))
      throw runtime_failure("snapshot: '" + *out + "' already exists; give a new file");
    if (!std::filesystem::exists(o->path, ec))
      throw runtime_failure("snapshot: no store at '" + o->path + "'");
    ensure_parent_dir(*out);
    if (auto st = store::snapshot(o->path, *out); !st) {
      std::filesystem::remove(*out, ec);  // never leave a half-written copy behind
      throw runtime_failure("snapshot: " + st.err().message);
    }
    auto r = store::reader::open(*out);
    if (!r) throw runtime_failure("snapshot: the copy does not open: " + r.err().message);
    auto st = r->status();
    if (!st) throw runtime_failure("snapshot: the copy does not read: " + st.err().message);
    std::printf("%s: copy of %s with %lld notifications", out->c_str(), o->path.c_str(),
                static_cast<long long>(st->notifications));
    for (const auto& off : st->offsets)
      std::printf(", %s at %s", off.stream.c_str(), off.id.str().c_str());
    std::printf("\n");
  });
}

}  // namespace cutover::app
