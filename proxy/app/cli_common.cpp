#include "app/cli_common.hpp"

#include "core/duration.hpp"

namespace cutover::app {

namespace {
std::vector<std::string>& args_store() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace

void remember_args(int argc, char** argv) {
  args_store().assign(argv + (argc > 0 ? 1 : 0), argv + argc);
}

const std::vector<std::string>& remembered_args() {
  return args_store();
}

CLI::Option* add_db_option(CLI::App& cmd, std::string& path) {
  path = kDefaultDb;
  return cmd.add_option("--db", path, "SQLite store file")
      ->envname("CUTOVER_DB")
      ->capture_default_str();
}

CLI::Option* add_duration(CLI::App& cmd, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& description) {
  auto* opt = cmd.add_option_function<std::string>(
      name,
      [&target, name](const std::string& text) {
        auto d = parse_duration(text);
        if (!d)
          throw CLI::ValidationError(
              name, "'" + text + "' is not a duration (e.g. 500ms, 30s, 2m, 1h, 7d)");
        target = *d;
      },
      description + " (default " + format_duration(target) + ")");
  opt->type_name("DURATION")->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  return opt;
}

}  // namespace cutover::app
