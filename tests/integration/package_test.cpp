// The .deb as an operator gets it (issue 17): cpack builds it from this build tree, it is
// unpacked into a scratch root, and the unit's own ExecStart runs against a real
// redis-server until /readyz answers; SIGTERM drains it within the unit's TimeoutStopSec.
// Nothing is installed on the machine itself.

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cutover_proc.hpp"
#include "store_fixtures.hpp"

namespace cutover {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::http_get;
using testing::redis_server;
using testing::subprocess;
using testing::temp_dir;

// Runs a command to its end; its status and everything it printed.
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  auto p = subprocess::spawn(argv);
  auto st = p->wait_exit(std::chrono::minutes(3));
  return {st.value_or(-1), p->output()};
}

std::string unit_value(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return {};
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

class Package : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new temp_dir;
    auto [st, out] =
        run({"cpack", "-G", "DEB", "--config",
             std::string(CUTOVER_BINARY_DIR) + "/CPackConfig.cmake", "-B", dir_->file("out")});
    ASSERT_EQ(st, 0) << out;
    for (const auto& e : fs::directory_iterator(dir_->file("out")))
      if (e.path().extension() == ".deb") deb_ = e.path();
    ASSERT_FALSE(deb_.empty()) << out;
    auto [xs, xout] = run({"dpkg-deb", "-R", deb_, dir_->file("root")});
    ASSERT_EQ(xs, 0) << xout;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string root() { return dir_->file("root"); }

  static inline temp_dir* dir_ = nullptr;
  static inline std::string deb_;
};

TEST_F(Package, ControlDeclaresDependenciesAndMaintainerScripts) {
  ASSERT_FALSE(deb_.empty());
  auto control = unit::slurp(root() + "/DEBIAN/control");
  EXPECT_NE(control.find("Package: cutover"), std::string::npos) << control;
  // dpkg-shlibdeps found the libraries the binary links (not a hand-kept list).
  for (const char* lib : {"libhiredis", "libsqlite3", "libboost-json1.81", "libssl3", "adduser"})
    EXPECT_NE(control.find(lib), std::string::npos) << lib << " missing from\n" << control;
  // The config under /etc is a conffile: an operator's edits survive an upgrade.
  EXPECT_NE(unit::slurp(root() + "/DEBIAN/conffiles").find("/etc/cutover/cutover.toml"),
            std::string::npos);
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    auto path = root() + "/DEBIAN/" + script;
    ASSERT_TRUE(fs::exists(path)) << script;
    EXPECT_NE(fs::status(path).permissions() & fs::perms::owner_exec, fs::perms::none) << script;
  }
  EXPECT_NE(unit::slurp(root() + "/DEBIAN/postinst").find("adduser --system"), std::string::npos);
  for (const char* f :
       {"/usr/bin/cutover", "/lib/systemd/system/cutover.service", "/etc/cutover/cutover.toml",
        "/usr/share/man/man1/cutover.1.gz", "/usr/share/doc/cutover/README.md"})
    EXPECT_TRUE(fs::exists(root() + f)) << f;
}

TEST_F(Package, UnitIsAServiceThatRestartsReloadsAndDrains) {
  auto unit = unit::slurp(root() + "/lib/systemd/system/cutover.service");
  EXPECT_EQ(unit_value(unit, "User"), "cutover");
  EXPECT_EQ(unit_value(unit, "ExecStart"),
            "/usr/bin/cutover --config /etc/cutover/cutover.toml serve");
  EXPECT_EQ(unit_value(unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
  EXPECT_EQ(unit_value(unit, "Restart"), "on-failure");
  EXPECT_EQ(unit_value(unit, "KillSignal"), "SIGTERM");
  EXPECT_FALSE(unit_value(unit, "LimitNOFILE").empty());
  EXPECT_EQ(unit_value(unit, "StateDirectory"), "cutover");
  EXPECT_EQ(unit_value(unit, "TimeoutStopSec"), "10s");  // longer than serve's 2 s drain
}

TEST_F(Package, ExampleConfigListsEveryServeOption) {
  auto config = unit::slurp(root() + "/etc/cutover/cutover.toml");
  auto [st, help] = run({root() + "/usr/bin/cutover", "serve", "--help"});
  ASSERT_EQ(st, 0) << help;
  // Option lines of --help: indented, then "--name" (or "-h,--help").
  auto option_of = [](const std::string& line) -> std::string {
    std::size_t i = line.find_first_not_of(' ');
    if (i == std::string::npos || i == 0) return {};
    if (line.compare(i, 3, "-h,") == 0) i += 3;
    if (line.compare(i, 2, "--") != 0) return {};
    std::size_t end = i + 2;
    while (end < line.size() && ((line[end] >= 'a' && line[end] <= 'z') ||
                                 (line[end] >= '0' && line[end] <= '9') || line[end] == '-'))
      ++end;
    return line.substr(i + 2, end - i - 2);
  };
  int seen = 0;
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    auto name = option_of(line);
    if (name.empty() || name == "help") continue;
    ++seen;
    bool listed = config.rfind(name + " = ", 0) == 0 ||
                  config.find("\n" + name + " = ") != std::string::npos ||
                  config.find("\n# " + name + " = ") != std::string::npos;
    EXPECT_TRUE(listed) << "cutover.toml lacks --" << name;
  }
  EXPECT_GE(seen, 40);
  // The man page is the same --help texts (roff-escaped dashes).
  auto [zs, man] = run({"gzip", "-dc", root() + "/usr/share/man/man1/cutover.1.gz"});
  ASSERT_EQ(zs, 0);
  EXPECT_NE(man.find(".SH CUTOVER SERVE"), std::string::npos);
  EXPECT_NE(man.find("\\-\\-token\\-secret"), std::string::npos);
}

TEST_F(Package, TheUnitsCommandLineServesUntilSigterm) {
  redis_server redis;
  redis.start();
  auto unit = unit::slurp(root() + "/lib/systemd/system/cutover.service");
  // ExecStart verbatim, its absolute paths inside the scratch root; then what differs on a
  // test machine, as flags (they win over the file): address, store, Redis. The secret comes
  // from the environment, as /etc/default/cutover would give it.
  std::vector<std::string> argv;
  for (auto& w : split_words(unit_value(unit, "ExecStart")))
    argv.push_back(w[0] == '/' ? root() + w : w);
  temp_dir state;
  for (const auto& f : std::vector<std::string>{"--listen", "127.0.0.1:0", "--db",
                                                state.file("cutover.db"), "--redis", redis.url()})
    argv.push_back(f);
  testing::spawn_options so;
  so.env["CUTOVER_TOKEN_SECRET"] = "package-test-secret";
  so.cwd = state.path();
  auto proc = subprocess::spawn(argv, so);
  auto line = proc->wait_for_line("cutover: listening on http://", 20s);
  ASSERT_TRUE(line) << proc->output();
  int port = std::stoi(line->substr(line->rfind(':') + 1));
  // /readyz: store open, Redis connected. The ingest link comes up just after listening.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  int status = 0;
  while ((status = http_get(port, "/readyz").status) != 200 &&
         std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(status, 200) << proc->output();
  proc->signal(SIGTERM);
  auto st = proc->wait_exit(10s);  // the unit's TimeoutStopSec
  ASSERT_TRUE(st) << proc->output();
  EXPECT_EQ(*st, 0) << proc->output();
  EXPECT_TRUE(fs::exists(state.file("cutover.db")));
}

}  // namespace
}  // namespace cutover
