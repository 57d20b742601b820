// cutover: the push-notification proxy and its operator commands (DESIGN §9).
// Exit codes: 0 ok, 1 runtime failure, 2 usage error; every error is one line on stderr.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli_common.hpp"

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
  add_serve_command(app);
  add_db_commands(app);
  add_replay_command(app);
  add_publish_command(app);
  add_token_command(app);
  add_import_command(app);

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
    std::fprintf(stderr, "cutover: %s (see --help)\n", e.what());
    return 2;
  } catch (const usage_failure& e) {
    std::fprintf(stderr, "cutover: %s (see --help)\n", e.what());
    return 2;
  } catch (const runtime_failure& e) {
    std::fprintf(stderr, "cutover: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cutover: %s\n", e.what());
    return 1;
  }
  return 0;
}
