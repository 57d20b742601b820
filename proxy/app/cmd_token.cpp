// `cutover token`: mint a token for the `token` auth mode (DESIGN §9).

#include <chrono>
#include <cstdio>

#include "app/cli_common.hpp"
#include "net/auth.hpp"

namespace cutover::app {

void add_token_command(CLI::App& app) {
  struct opts {
    std::string secret;
    std::string user;
    std::chrono::milliseconds ttl{std::chrono::hours(1)};
  };
  auto o = std::make_shared<opts>();
  auto* cmd = app.add_subcommand("token", "Mint a JWT (HS256) for --auth token");
  cmd->add_option("--secret", o->secret, "The server's --token-secret")
      ->envname("CUTOVER_TOKEN_SECRET")
      ->required();
  cmd->add_option("--user", o->user, "User id (the token's sub)")->required();
  add_duration(*cmd, "--ttl", o->ttl, "Validity");
  cmd->callback([o] {
    if (o->user.empty()) throw usage_failure("--user must not be empty");
    if (o->ttl.count() < 1000) throw usage_failure("--ttl must be at least 1s");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::printf("%s\n", net::mint_token(o->secret, o->user,
                                        std::chrono::duration_cast<std::chrono::seconds>(o->ttl),
                                        now.count())
                            .c_str());
  });
}

}  // namespace cutover::app
