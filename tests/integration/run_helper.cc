#include "tests/integration/run_helper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tlbscope::testing {

int CountLines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

bool HaveKvm() {
  struct stat st;
  return ::stat("/dev/kvm", &st) == 0;
}

std::string HostProbe(const std::string& key) {
  static const std::string* probe = new std::string(RunTlbscope({"probe-host"}).out);
  for (absl::string_view line : absl::StrSplit(*probe, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    return std::string(absl::StripLeadingAsciiWhitespace(line));
  }
  return "";
}

std::string GuestProbe() { return GUEST_PROBE_ELF; }
std::string TestKernel(const std::string& name) {
  return std::string(TEST_KERNELS_DIR) + "/" + name;
}

ProcResult RunTlbscope(const std::vector<std::string>& args, int kill_after_s, int term_after_ms) {
  BackgroundTlbscope t(args);
  if (term_after_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(term_after_ms));
    t.Signal(SIGTERM);
  }
  ProcResult r;
  r.exit_code = t.Wait(kill_after_s);
  r.out = t.out();
  r.err = t.err();
  return r;
}

}  // namespace tlbscope::testing

namespace tlbscope::testing {

std::string BackgroundTlbscope::ReadFileImpl(const std::string& path) { return ReadFile(path); }

BackgroundTlbscope::BackgroundTlbscope(const std::vector<std::string>& args) {
  static int counter = 0;
  std::string base = ::testing::TempDir() + "/tlbscope_bg_" + std::to_string(::getpid()) + "_" +
                     std::to_string(counter++);
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  std::vector<std::string> argv_s = {TLBSCOPE_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

BackgroundTlbscope::~BackgroundTlbscope() {
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

std::string BackgroundTlbscope::WaitForLine(const std::string& prefix, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = err();
    size_t p = text.find(prefix);
    if (p != std::string::npos) {
      size_t end = text.find('\n', p);
      if (end != std::string::npos) return text.substr(p + prefix.size(), end - p - prefix.size());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no '" << prefix << "' on tlbscope's stderr:\n" << err();
  return "";
}

void BackgroundTlbscope::Signal(int sig) { ::kill(pid_, sig); }

int BackgroundTlbscope::Wait(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      status_ = 0;
      ADD_FAILURE() << "tlbscope did not exit within " << timeout_s << " s";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  return WIFEXITED(status) ? status_ : -1;
}

}  // namespace tlbscope::testing

namespace tlbscope::testing {

bool MakeTestTls(const std::string& prefix, TestTls* out) {
  out->key = prefix + ".key";
  out->cert = prefix + ".crt";
  out->token = prefix + ".token";
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      out->key + " -out " + out->cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return false;
  std::ofstream(out->token) << "tls-token\n";
  return true;
}

std::string GrepLines(const std::string& text, const std::string& needle) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) out += line + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace tlbscope::testing
