// cutover: the push-notification proxy and its operator commands (DESIGN §9).
// Exit codes: 0 ok, 1 runtime failure, 2 usage error; every error is one line on stderr.

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli_common.hpp"
#include "core/log.hpp"

int main(int argc, char** argv) {
  using namespace cutover::app;
  CLI::App app{
      "Cutover: one notification store and cursor behind a legacy long-poll endpoint "
      "and WebSocket push, fed by Redis."};
  app.name("cutover");
  app.require_subcommand(1);
  // A flag given twice (say in the config file and on the command line) takes the last.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_config("--config", "", "Read options from a TOML/INI file");
  app.set_version_flag("--version", "cutover 0.1.0");
  // Before any subcommand runs (trigger_on_parse), so its first line is already in format.
  app.add_option_function<std::string>(
         "--log-format",
         [](const std::string& v) {
           auto f = cutover::core::parse_log_format(v);
           if (!f)
             throw CLI::ValidationError("--log-format", "expected text or json, got '" + v + "'");
           cutover::core::set_log_format(*f);
         },
         "Log lines as text (default) or json (one object per line: time, level, component, "
         "message, "
         "fields)")
      ->envname("CUTOVER_LOG_FORMAT")
      ->trigger_on_parse();
  add_serve_command(app);
  add_db_commands(app);
  add_replay_command(app);
  add_publish_command(app);
  add_token_command(app);
  add_import_command(app);

  const cutover::core::logger log("");
  remember_args(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, then a pointer to --help; CLI11 would print the whole usage.
    log.at(cutover::core::log_level::error, std::string(e.what()) + " (see --help)");
    return 2;
  } catch (const usage_failure& e) {
    log.at(cutover::core::log_level::error, std::string(e.what()) + " (see --help)");
    return 2;
  } catch (const runtime_failure& e) {
    log.at(cutover::core::log_level::error, e.what());
    return 1;
  } catch (const std::exception& e) {
    log.at(cutover::core::log_level::error, e.what());
    return 1;
  }
  return 0;
}
