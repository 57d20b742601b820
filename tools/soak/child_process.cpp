#include "child_process.hpp"

#include <signal.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace cutover::soak {
namespace {

using spawned = std::unique_ptr<testing::subprocess>;

// Every spawn happens on this one thread, which lives until the soak exits. Linux sends
// PR_SET_PDEATHSIG when the *thread* that forked a child ends, not the process: a child
// restarted from the fault thread would otherwise be killed when that thread finishes.
class spawn_thread {
 public:
  static spawn_thread& get() {
    static spawn_thread t;
    return t;
  }
  spawned run(std::function<spawned()> spawn_child) {
    std::packaged_task<spawned()> task(std::move(spawn_child));
    auto result = task.get_future();
    {
      std::lock_guard lk(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();  // rethrows what the spawn threw
  }
  ~spawn_thread() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  spawn_thread() : thread_([this] { loop(); }) {}
  void loop() {
    std::unique_lock lk(mu_);
    while (true) {
      cv_.wait(lk, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lk.unlock();
      task();
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<spawned()>> tasks_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

child_process::child_process(std::string name, std::vector<std::string> argv, std::string log_path)
    : name_(std::move(name)), argv_(std::move(argv)), log_path_(std::move(log_path)) {}

child_process::~child_process() {
  kill();
}

bool child_process::start(const std::string& ready_text, std::chrono::milliseconds timeout) {
  kill();
  testing::spawn_options opt;
  opt.tee_path = log_path_;
  opt.die_with_parent = true;
  try {
    proc_ = spawn_thread::get().run([&] { return testing::subprocess::spawn(argv_, opt); });
  } catch (const std::exception&) {
    return false;
  }
  // The ready line is the event; it comes to nothing if the process exits first.
  if (proc_->wait_for_line(ready_text, timeout)) return true;
  kill();
  return false;
}

void child_process::signal(int sig) const {
  if (proc_) proc_->signal(sig);
}

bool child_process::running() {
  return proc_ && proc_->running();
}

bool child_process::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout,
                                  std::size_t from) const {
  return proc_ && proc_->wait_for_line(needle, timeout, from).has_value();
}

std::size_t child_process::line_count() const {
  return proc_ ? proc_->line_count() : 0;
}

void child_process::kill() {
  if (!proc_) return;
  proc_->signal(SIGCONT);  // a stopped process must still be reaped
  proc_->signal(SIGKILL);
  proc_->wait_exit(std::chrono::seconds(10));
  proc_.reset();
}

std::optional<int> child_process::terminate(std::chrono::milliseconds grace) {
  if (!proc_) return std::nullopt;
  proc_->signal(SIGCONT);
  proc_->signal(SIGTERM);
  auto code = proc_->wait_exit(grace);
  if (!code) {
    kill();
    return std::nullopt;
  }
  proc_.reset();
  return code;
}

}  // namespace cutover::soak
