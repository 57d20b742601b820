#include "subprocess.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace cutover::testing {

std::unique_ptr<subprocess> subprocess::spawn(const std::vector<std::string>& argv,
                                              const spawn_options& opt) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<std::string> env_strings;
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : opt.env) env[k] = v;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int tee = -1;
  if (!opt.tee_path.empty()) {
    tee = ::open(opt.tee_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (tee < 0) {
      for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
      throw std::runtime_error("cannot open " + opt.tee_path + ": " + std::strerror(errno));
    }
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (opt.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the parent is already gone
    }
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (!opt.cwd.empty() && chdir(opt.cwd.c_str()) != 0) _exit(126);
    // New process group, so a signal to the test runner's group does not hit it twice.
    setpgid(0, 0);
    execvpe(cargv[0], cargv.data(), cenv.data());
    std::fprintf(stderr, "exec %s failed: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  std::unique_ptr<subprocess> p(new subprocess());
  p->pid_ = pid;
  p->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  p->out_fd_ = out[0];
  p->err_fd_ = err[0];
  p->tee_fd_ = tee;
  p->reader_ = std::thread([raw = p.get()] { raw->pump(); });
  return p;
}

subprocess::~subprocess() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
  if (pidfd_ >= 0) close(pidfd_);
  if (tee_fd_ >= 0) close(tee_fd_);
}

void subprocess::pump() {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  std::string* partial[2] = {&partial_out_, &partial_err_};
  int open_count = 2;
  char buf[8192];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      std::lock_guard lk(mu_);
      if (n <= 0) {
        if (!partial[i]->empty()) lines_.push_back(std::move(*partial[i]));
        partial[i]->clear();
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      } else {
        for (ssize_t done = 0; tee_fd_ >= 0 && done < n;) {
          ssize_t w = write(tee_fd_, buf + done, static_cast<std::size_t>(n - done));
          if (w <= 0) break;  // a full disk loses log lines, not the process's output
          done += w;
        }
        partial[i]->append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = partial[i]->find('\n')) != std::string::npos) {
          lines_.push_back(partial[i]->substr(0, nl));
          partial[i]->erase(0, nl + 1);
        }
      }
      cv_.notify_all();
    }
  }
  std::lock_guard lk(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::optional<std::string> subprocess::wait_for_line(std::string_view needle,
                                                     std::chrono::milliseconds timeout,
                                                     std::size_t from) {
  std::unique_lock lk(mu_);
  std::size_t checked = from;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (; checked < lines_.size(); ++checked)
      if (lines_[checked].find(needle) != std::string::npos) return lines_[checked];
    if (eof_) return std::nullopt;
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
      for (; checked < lines_.size(); ++checked)
        if (lines_[checked].find(needle) != std::string::npos) return lines_[checked];
      return std::nullopt;
    }
  }
}

std::size_t subprocess::line_count() const {
  std::lock_guard lk(mu_);
  return lines_.size();
}

std::string subprocess::output() const {
  std::lock_guard lk(mu_);
  std::string all;
  for (const auto& l : lines_) all += l + "\n";
  all += partial_out_ + partial_err_;
  return all;
}

void subprocess::signal(int sig) const {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> subprocess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  pollfd p{pidfd_, POLLIN, 0};
  int rc = poll(&p, 1, static_cast<int>(timeout.count()));
  if (rc <= 0) return std::nullopt;
  int st = 0;
  if (waitpid(pid_, &st, 0) != pid_) return std::nullopt;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  // The exit can be seen before the reader thread has the last lines: give it the pipes'
  // end (bounded: a child that inherited them may keep them open), so output() after
  // wait_exit() holds everything the process wrote.
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::seconds(5), [this] { return eof_; });
  return status_;
}

bool subprocess::running() {
  return !wait_exit(std::chrono::milliseconds(0)).has_value();
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

temp_dir::temp_dir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/cutover-test-XXXXXX";
  if (!mkdtemp(base.data())) throw std::runtime_error("mkdtemp failed");
  path_ = base;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace cutover::testing
