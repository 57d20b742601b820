#pragma once
// Test support: run a real program (cutover, redis-server, node), capture its stdout
// and stderr, and wait on events — a line appearing, the process exiting — never on sleep.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cutover::testing {

struct spawn_options {
  std::map<std::string, std::string> env;  // added to (or overriding) the inherited environment
  std::string cwd;
  // Also appends everything the process writes to this file as it arrives (a log to read
  // while it runs, or after); "" for none.
  std::string tee_path{};
  // SIGKILLed by the kernel when the thread that spawned it ends (PR_SET_PDEATHSIG), so a
  // crashed caller leaves nothing behind. Spawn from a thread that lives as long as it.
  bool die_with_parent = false;
};

class subprocess {
 public:
  // Starts argv[0] (searched in PATH) with `argv`. Throws std::runtime_error on failure.
  static std::unique_ptr<subprocess> spawn(const std::vector<std::string>& argv,
                                           const spawn_options& opt = {});
  ~subprocess();  // SIGKILLs and reaps a process still running
  subprocess(const subprocess&) = delete;
  subprocess& operator=(const subprocess&) = delete;

  // Waits until a captured line (stdout or stderr) contains `needle`; returns that line.
  // Lines already seen count, starting from line `from` (see line_count()).
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds timeout, std::size_t from = 0);
  std::size_t line_count() const;
  std::string output() const;  // everything captured so far, stdout and stderr interleaved

  void signal(int sig) const;
  // Exit status (exit code, or 128 + signal), or nullopt on timeout. Once it returns a
  // status, output() holds everything the process wrote (its pipes reached their end).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }
  bool running();

 private:
  subprocess() = default;
  void pump();  // reader thread: collects lines from both pipes

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  int tee_fd_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::string partial_out_, partial_err_;
  bool eof_ = false;
};

// A port that was free a moment ago on 127.0.0.1.
int free_port();

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole content of a file ("" when it cannot be read).
std::string slurp(const std::string& path);

}  // namespace cutover::testing
