#pragma once
// Shared pieces of the command line: error kinds that map to exit codes, and option
// helpers so every subcommand parses durations and cursors the same way.

#include <CLI/CLI.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace cutover::app {

// Exit 1: the command was well formed but failed at run time.
struct runtime_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Exit 2: the command line itself is wrong (beyond what CLI11 catches).
struct usage_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultDb = "var/cutover.db";

// --db PATH with CUTOVER_DB and the default.
CLI::Option* add_db_option(CLI::App& cmd, std::string& path);

// A duration option (`500ms`, `30s`, `2m`, `1h`, `7d`, bare seconds).
CLI::Option* add_duration(CLI::App& cmd, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& description);

// The command line as main() got it (without argv[0]), so `serve` can parse it again on
// SIGHUP exactly as at start.
void remember_args(int argc, char** argv);
const std::vector<std::string>& remembered_args();

// Registers subcommands; each sets its own callback.
void add_db_commands(CLI::App& app);
void add_replay_command(CLI::App& app);
void add_publish_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_token_command(CLI::App& app);
void add_import_command(CLI::App& app);

}  // namespace cutover::app
