#pragma once

#include <string>
#include <vector>

#include "tests/common/text_file.h"  // ReadFile

namespace tlbscope::testing {

struct ProcResult {
  int exit_code = -1;  // -1: killed by a signal or did not start
  std::string out;
  std::string err;
};

// Runs the tlbscope binary with `args`, capturing stdout and stderr. A run
// still going after `kill_after_s` is killed (and exit_code stays -1), so a
// broken VMM fails the test instead of hanging it. With term_after_ms >= 0
// it gets a SIGTERM that many milliseconds after it started.
ProcResult RunTlbscope(const std::vector<std::string>& args, int kill_after_s = 120,
                       int term_after_ms = -1);

bool HaveKvm();

// tlbscope running in the background (for gRPC subscribers to talk to).
class BackgroundTlbscope {
 public:
  explicit BackgroundTlbscope(const std::vector<std::string>& args);
  ~BackgroundTlbscope();  // kills it if still running
  // Waits for a stderr line containing `prefix` and returns the rest of it.
  std::string WaitForLine(const std::string& prefix, int timeout_s = 30);
  // Waits for exit; the exit status, or -1 if it died of a signal or was
  // killed after `timeout_s`.
  int Wait(int timeout_s = 60);
  void Signal(int sig);
  std::string err() const { return ReadFileImpl(err_path_); }
  std::string out() const { return ReadFileImpl(out_path_); }

 private:
  static std::string ReadFileImpl(const std::string& path);
  int pid_ = -1;
  int status_ = -1;
  std::string out_path_, err_path_;
};

// Integration tests need /dev/kvm; they skip, saying so, only where it is absent.
#define REQUIRE_KVM()                                                      \
  do {                                                                     \
    if (!::tlbscope::testing::HaveKvm())                                   \
      GTEST_SKIP() << "/dev/kvm absent on this machine: KVM test skipped"; \
  } while (0)

// The value of `tlbscope probe-host`'s line `KEY: value` ("" if none).
std::string HostProbe(const std::string& key);
std::string GuestProbe();
std::string TestKernel(const std::string& name);
int CountLines(const std::string& text);
// A self-signed certificate for localhost and 127.0.0.1 (openssl), its key,
// and a token file holding "tls-token", at PREFIX.crt, .key and .token.
// False if openssl could not make them.
struct TestTls {
  std::string cert, key, token;
};
bool MakeTestTls(const std::string& prefix, TestTls* out);

// The lines of `text` that contain `needle`, for failure messages.
std::string GrepLines(const std::string& text, const std::string& needle);

}  // namespace tlbscope::testing
