#pragma once
// Test support: the `cutover` binary run to its exit as an operator runs it, for tests of
// exit codes and one-line messages. Header-only: CUTOVER_BIN comes from the test target
// (app_tests, or anything linking cutover_server_support).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace cutover::testing {

struct run_result {
  int code = -1;    // exit code (128 + signal); -1 when it was still running at the deadline
  std::string out;  // stdout and stderr, interleaved as written
};

// Runs `cutover ARGS...` to its exit; a process still running after `timeout` is a test
// failure (and killed).
inline run_result run_cutover(std::vector<std::string> args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  args.insert(args.begin(), CUTOVER_BIN);
  auto p = subprocess::spawn(args);
  auto code = p->wait_exit(timeout);
  EXPECT_TRUE(code) << "timed out: " << p->output();  // output() is complete once it exited
  return {code.value_or(-1), p->output()};
}

}  // namespace cutover::testing
