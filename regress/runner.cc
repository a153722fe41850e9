#include "regress/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "common/file_names.h"
#include "regress/domain_xml.h"
#include "regress/progress.h"

namespace tlbscope::regress {
namespace {

std::string Resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

// fork + exec with stdout and stderr to `log`; the exit status, or -1 for
// a signal, and whether the watchdog killed it.
int Spawn(const std::string& bin, const std::vector<std::string>& args, const std::string& log,
          double kill_after_s, bool* killed) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (null >= 0) dup2(null, 0);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  if (pid < 0) return -1;
  auto start = std::chrono::steady_clock::now();
  int status = 0;
  *killed = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    std::chrono::duration<double> age = std::chrono::steady_clock::now() - start;
    if (!*killed && age.count() > kill_after_s) {
      kill(pid, SIGKILL);
      *killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Empties out_dir/name for a new run. The name was checked when the suite
// was read; this checks again (and that the folder really is inside
// out_dir, no symlink leading out) before anything is removed.
absl::Status PrepareRunDir(const std::string& out_dir, const std::string& name,
                           const std::string& dir) {
  if (absl::Status s = CheckFileName(name, "run name"); !s.ok()) return s;
  if (!IsStrictlyInside(out_dir, dir)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is not inside --out %s; not touching it", dir, out_dir));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!ec) std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrFormat("%s: %s", dir, ec.message()));
  return absl::OkStatus();
}

RegressProgress::Outcome ProgressOutcome(const RunVerdict& v) {
  if (v.passed) return RegressProgress::kPass;
  if (v.skipped) return RegressProgress::kSkip;
  return v.error ? RegressProgress::kError : RegressProgress::kFail;
}

}  // namespace

absl::Status ResolveSuite(Suite* suite) {
  std::filesystem::path base = std::filesystem::path(suite->path).parent_path();
  for (RunSpec& r : suite->runs) {
    r.kernel = Resolve(base, r.kernel);
    r.initrd = Resolve(base, r.initrd);
    if (r.domain.empty()) continue;
    r.domain = Resolve(base, r.domain);
    absl::StatusOr<DomainVm> vm = ReadDomainXml(r.domain);
    if (!vm.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("run '%s': %s", r.name, vm.status().message()));
    }
    std::filesystem::path dbase = std::filesystem::path(r.domain).parent_path();
    r.smp = vm->vcpus;
    r.mem_mib = vm->mem_mib;
    r.kernel = Resolve(dbase, vm->kernel);
    r.initrd = Resolve(dbase, vm->initrd);
    if (!vm->cmdline.empty()) r.cmdline = vm->cmdline + (r.cmdline.empty() ? "" : " " + r.cmdline);
  }
  return absl::OkStatus();
}

std::vector<std::string> RunArgs(const RunSpec& r, const RunnerOptions& o, const std::string& dir) {
  std::vector<std::string> a = {"run"};
  // A workload boots the guest-linux kernel unless the run names its own.
  if (!r.workload.empty()) a.insert(a.end(), {"--workload", r.workload});
  if (!r.linux_variant.empty()) a.insert(a.end(), {"--linux-variant", r.linux_variant});
  if (!r.kernel.empty() || r.workload.empty()) {
    a.insert(a.end(), {"--kernel", r.kernel.empty() ? o.default_kernel : r.kernel});
  }
  if (!r.initrd.empty()) a.insert(a.end(), {"--initrd", r.initrd});
  a.insert(a.end(), {"--smp", std::to_string(r.smp), "--mem", std::to_string(r.mem_mib)});
  std::string cmdline = r.cmdline;
  auto add = [&](const std::string& kv) { cmdline += (cmdline.empty() ? "" : " ") + kv; };
  if (!r.scenario.empty()) {
    add("scenario=" + r.scenario);
    add("variant=" + r.variant);
    add("seed=" + std::to_string(r.seed));
  }
  if (!cmdline.empty()) a.insert(a.end(), {"--cmdline", cmdline});
  for (const std::string& h : r.holds) a.insert(a.end(), {"--hold", h});
  for (const std::string& f : r.required_features) a.insert(a.end(), {"--require", f});
  a.insert(a.end(),
           {"--timeout", absl::StrFormat("%g", r.timeout_s), "--record", dir + "/trace",
            "--serial-log", dir + "/serial.log", "--results", dir + "/results.json", "--quiet"});
  return a;
}

std::vector<RunVerdict> RunSuite(const Suite& suite, const RunnerOptions& o) {
  std::vector<RunVerdict> out(suite.runs.size());
  std::atomic<size_t> next{0};
  StatusLine off(stderr, false);
  RegressProgress progress(o.status ? o.status : &off, suite.runs.size());
  auto worker = [&]() {
    for (size_t i = next++; i < suite.runs.size(); i = next++) {
      RunVerdict& v = out[i];
      v.spec = suite.runs[i];
      v.out_dir = o.out_dir + "/" + v.spec.name;
      v.trace_path = v.out_dir + "/trace";
      v.serial_path = v.out_dir + "/serial.log";
      v.log_path = v.out_dir + "/tlbscope.log";
      if (absl::Status s = PrepareRunDir(o.out_dir, v.spec.name, v.out_dir); !s.ok()) {
        v.exit_status = -1;
        v.error = true;
        v.reason = std::string(s.message());
        if (o.progress) {
          progress.Finished(
              v.spec.name, RegressProgress::kError,
              absl::StrFormat("tlbscope regress: ERROR %s: %s\n", v.spec.name, v.reason));
        }
        continue;
      }
      if (o.progress) progress.Started(v.spec.name);
      auto start = std::chrono::steady_clock::now();
      v.started_unix = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      bool killed = false;
      v.exit_status = Spawn(o.tlbscope, RunArgs(v.spec, o, v.out_dir), v.log_path,
                            v.spec.timeout_s + o.kill_grace_s, &killed);
      v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (killed) {
        v.error = true;
        v.problem = "hung";
        v.reason = absl::StrFormat(
            "hung: tlbscope still running %.0f s after its %g s timeout; "
            "killed",
            v.seconds - v.spec.timeout_s, v.spec.timeout_s);
      } else {
        Judge(&v);
      }
      if (!v.measured.name().empty()) v.measured.set_seconds(v.seconds);
      if (!o.progress) continue;
      progress.Finished(v.spec.name, ProgressOutcome(v),
                        absl::StrFormat("tlbscope regress: %-5s %s (%.1f s)%s%s\n", ResultWord(v),
                                        v.spec.name, v.seconds, v.passed ? "" : ": ", v.reason));
    }
  };
  std::vector<std::thread> threads;
  int jobs = std::max(1, std::min<int>(o.jobs, static_cast<int>(suite.runs.size())));
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  progress.Done();
  return out;
}

}  // namespace tlbscope::regress
