#pragma once
// A program the soak runs and abuses (redis-server, `cutover serve`): started with its
// output appended to a log file, signalled (SIGKILL, SIGSTOP, SIGCONT, SIGTERM), waited
// for, and started again with the same arguments. Owned by the fault thread; the kernel
// also kills it if the soak itself dies (PR_SET_PDEATHSIG), so nothing outlives a crashed
// run. The process itself is the tests' testing::subprocess (tests/support).

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace cutover::soak {

class child_process {
 public:
  child_process(std::string name, std::vector<std::string> argv, std::string log_path);
  ~child_process();  // SIGKILL and reap
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Starts the program (appending to its log) and waits until its output, from this start
  // on, contains `ready_text`. False (and the process killed) if it exits or times out.
  bool start(const std::string& ready_text, std::chrono::milliseconds timeout);
  void signal(int sig) const;
  // SIGKILL and reap.
  void kill();
  // SIGTERM, then the exit status; SIGKILL after `grace`.
  std::optional<int> terminate(std::chrono::milliseconds grace);
  bool running();
  // Waits for a line of this start's output containing `needle`, from line `from` on
  // (line_count() before the event); false on timeout or when it is not running.
  bool wait_for_line(const std::string& needle, std::chrono::milliseconds timeout,
                     std::size_t from) const;
  std::size_t line_count() const;

  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::string log_path_;
  std::unique_ptr<testing::subprocess> proc_;
};

}  // namespace cutover::soak
