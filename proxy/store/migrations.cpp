#include "store/migrations.hpp"

#include "store/sqlite.hpp"

namespace cutover::store {

int latest_version(const std::vector<migration>& steps) {
  return steps.empty() ? 0 : steps.back().version;
}

result<int> check_version(sqlite3* db, const std::vector<migration>& steps) {
  auto version = sql::pragma_int(db, "user_version");
  if (!version) return version.err();
  auto app = sql::pragma_int(db, "application_id");
  if (!app) return app.err();
  if (*app != 0 && *app != kApplicationId)
    return error{"not a Cutover store (application_id " + std::to_string(*app) +
                 "); refusing to touch it"};
  if (*app == 0 && *version != 0)
    return error{"not a Cutover store (user_version " + std::to_string(*version) +
                 " without Cutover's application_id); refusing to touch it"};
  int latest = latest_version(steps);
  if (*version > latest)
    return error{"database schema version " + std::to_string(*version) +
                 " is newer than this binary supports (" + std::to_string(latest) +
                 "); refusing to touch it — upgrade cutover"};
  return static_cast<int>(*version);
}

result<migrate_report> migrate(sqlite3* db, const std::vector<migration>& steps) {
  auto start = check_version(db, steps);
  if (!start) return start.err();
  migrate_report report{*start, *start};
  for (const auto& step : steps) {
    if (step.version <= report.to_version) continue;
    auto tx = sql::transaction::begin(db);
    if (!tx) return tx.err();
    // Another process may have migrated while we waited for the write lock.
    auto now = sql::pragma_int(db, "user_version");
    if (!now) return now.err();
    if (*now >= step.version) {
      report.to_version = static_cast<int>(*now);
      continue;
    }
    std::string context = std::string("migration ") + step.name + " failed";
    if (auto st = sql::exec(db, step.sql, context); !st) return st.err();
    std::string stamp = "PRAGMA user_version = " + std::to_string(step.version) + ";" +
                        "PRAGMA application_id = " + std::to_string(kApplicationId) + ";";
    if (auto st = sql::exec(db, stamp, context); !st) return st.err();
    if (auto st = tx->commit(); !st) return error{context + ": " + st.err().message, st.err().code};
    report.to_version = step.version;
  }
  return report;
}

}  // namespace cutover::store
