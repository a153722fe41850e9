// What tracing costs a real Linux guest: the test kernel's tlbwork workload
// run three ways in one benchmark iteration, as ratios to the untraced run
// measured in the same iteration (this machine is shared and noisy):
//
//   build/bench/tlbscope_linux_run_bench [--benchmark_filter=munmap]
//   (TLBSCOPE_BIN=PATH: another tlbscope binary than this build's)
//
//   no-trap   `--no-trap`: nothing trapped, no probes (the baseline)
//   traps     `--no-linux-probes`: CR3 writes and INVLPGs trapped
//   probes    the default: traps and the Linux probes
//
// Times are the guest's own (tlbwork's "TLBWORK done NAME PASS S s", its
// CLOCK_MONOTONIC around the workload, boot excluded) and the whole run's
// ("guest exited ... after S s"). The cost per probe hit is the extra
// workload time of the probes run over the traps run, divided by its
// hits. Needs /dev/kvm and the test kernel (guest-linux/build-kernel.sh).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

namespace {

struct RunTimes {
  double workload_s = 0, run_s = 0;
  double hits = 0;
  bool ok = false;
};

// The tlbscope binary: $TLBSCOPE_BIN, else the one this build made (a copy
// lets a long run go on while the tree is rebuilt).
std::string Binary() {
  const char* env = std::getenv("TLBSCOPE_BIN");
  return env != nullptr && *env != '\0' ? env : TLBSCOPE_BIN;
}

RunTimes Run(const std::string& workload, const char* extra) {
  std::string cmd = Binary() + " run --linux --workload " + workload +
                    " --iterations 20 --smp 2 --timeout 600 " + extra + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  RunTimes t;
  if (p == nullptr) return t;
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  int status = ::pclose(p);
  std::smatch m;
  if (std::regex_search(out, m, std::regex("TLBWORK done \\S+ PASS ([0-9.]+) s"))) {
    t.workload_s = std::stod(m[1]);
  }
  if (std::regex_search(out, m, std::regex("guest exited with code 0 after ([0-9.]+) s"))) {
    t.run_s = std::stod(m[1]);
  }
  if (std::regex_search(out, m, std::regex("linux probes: ([0-9]+) hits"))) {
    t.hits = std::stod(m[1]);
  }
  t.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && t.workload_s > 0 && t.run_s > 0;
  return t;
}

void BM_LinuxRun(benchmark::State& state, const std::string& workload) {
  if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    state.SkipWithError("/dev/kvm is absent: this benchmark runs a Linux guest");
    return;
  }
  for (auto _ : state) {
    RunTimes base = Run(workload, "--no-trap");
    RunTimes traps = Run(workload, "--no-linux-probes");
    RunTimes probes = Run(workload, "");
    if (!base.ok || !traps.ok || !probes.ok) {
      state.SkipWithError("a run failed (see `tlbscope run --linux` by hand)");
      return;
    }
    state.SetIterationTime(probes.workload_s);
    state.counters["workload_s_no_trap"] = base.workload_s;
    state.counters["workload_x_traps"] = traps.workload_s / base.workload_s;
    state.counters["workload_x_probes"] = probes.workload_s / base.workload_s;
    state.counters["run_x_traps"] = traps.run_s / base.run_s;
    state.counters["run_x_probes"] = probes.run_s / base.run_s;
    state.counters["probe_hits"] = probes.hits;
    // What the probes add to the whole run (boot included: most hits are
    // there), per hit.
    state.counters["us_per_probe_hit"] =
        probes.hits > 0 ? 1e6 * (probes.run_s - traps.run_s) / probes.hits : 0;
  }
}

BENCHMARK_CAPTURE(BM_LinuxRun, munmap, std::string("munmap"))
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_LinuxRun, lazy, std::string("lazy"))
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
