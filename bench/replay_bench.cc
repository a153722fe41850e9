// The collector's replay rate and memory (issue 6): a synthesized trace of
// guest-probe-shaped shootdown rounds (4 vCPUs, 8 mms: switches, user
// entries, a munmap gather with a 4-page shootdown to every CPU, page
// frees), written to a real trace file, then `tlbcollect replay`'s code path
// (decode + state model + every invariant + stats) over it:
//
//   build/bench/tlbcollect_bench [--events N] [--dir DIR] [--keep]
//
// prints events/s for the replay of N events, and the peak RSS of a child
// process replaying N and 10*N events (memory must not grow with the
// trace). Not part of the test suite: the machine is shared and noisy.
#include <google/protobuf/util/delimited_message_util.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "collectors/collector.h"
#include "collectors/replay_source.h"
#include "tests/collect/synth.h"

namespace tlbscope::collect {
namespace {

using testing::kInit;
using testing::Synth;

constexpr int kVcpus = 4, kMms = 8;

// Writes a trace of at least `events` events; returns how many.
uint64_t Synthesize(const std::string& path, uint64_t events) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  v1::TraceRecord h;
  h.mutable_header()->set_schema_version(1);
  h.mutable_header()->mutable_vm()->set_smp(kVcpus);
  h.mutable_header()->mutable_vm()->set_cmdline("scenario=synthetic-bench");
  h.mutable_header()->mutable_traps()->set_cr3("hw-breakpoint+emulate");
  h.mutable_header()->mutable_traps()->set_invlpg("hw-breakpoint+step");
  h.mutable_header()->mutable_traps()->set_invpcid("emulation-failure");
  google::protobuf::util::SerializeDelimitedToOstream(h, &f);
  std::array<uint64_t, kMms> gen;
  gen.fill(1);
  uint64_t seq = 0;
  int64_t ns = 0;
  uint64_t prev = kInit;
  v1::TraceRecord r;
  auto flush = [&](Synth& s) {
    for (const v1::Event& e : s.events()) {
      *r.mutable_event() = e;
      r.mutable_event()->set_sequence(seq++);
      r.mutable_event()->set_host_time_ns(ns + e.host_time_ns());
      google::protobuf::util::SerializeDelimitedToOstream(r, &f);
    }
    ns += static_cast<int64_t>(s.events().size()) * 1000 + 1000;
  };
  {
    Synth boot;
    for (int v = 0; v < kVcpus; ++v) boot.Cr3(v, testing::RootOf(kInit), true);
    flush(boot);
  }
  for (uint64_t round = 0; seq < events; ++round) {
    Synth s;
    uint64_t mm = 2 + round % kMms;
    uint64_t& g = gen[round % kMms];
    uint32_t init = round % kVcpus;
    uint64_t base = 0x8000000000 + (round % 64) * 0x10000;
    for (int v = 0; v < kVcpus; ++v) s.SwitchTo(v, prev, mm);
    for (int v = 0; v < kVcpus; ++v) s.UserEnter(v, mm, g, g);
    for (int v = 0; v < kVcpus; ++v) s.UserExit(v, mm);
    s.GatherStart(init, mm, base, base + 0x4000, 1);
    s.Shootdown(init, mm, base, base + 0x4000, g + 1, (1u << kVcpus) - 1);
    ++g;
    for (int p = 0; p < 4; ++p) s.PageFree(init, mm, base + p * 0x1000, g);
    s.GatherEnd(init, mm, base, base + 0x4000, g, 1, 1, false, false, false);
    for (int v = 0; v < kVcpus; ++v) s.UserEnter(v, mm, g, g);
    flush(s);
    prev = mm;
  }
  v1::TraceRecord end;
  end.mutable_end()->set_events(seq);
  end.mutable_end()->set_stop_reason("guest-exit");
  google::protobuf::util::SerializeDelimitedToOstream(end, &f);
  return seq;
}

struct ReplayRun {
  uint64_t events = 0, violations = 0;
  double seconds = 0;      // wall
  double cpu_seconds = 0;  // user + system of this process (the host is shared)
};

double CpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

ReplayRun ReplayOnce(const std::string& path) {
  Collector c;
  double c0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  absl::Status st = Replay(path, c);
  auto t1 = std::chrono::steady_clock::now();
  double c1 = CpuSeconds();
  if (!st.ok()) {
    std::fprintf(stderr, "tlbcollect_bench: %s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
  return {c.events(), c.violation_count(), std::chrono::duration<double>(t1 - t0).count(), c1 - c0};
}

// Peak RSS (KiB) of a child that replays `path`.
long ChildPeakRssKib(const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    ReplayOnce(path);
    _exit(0);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return ru.ru_maxrss;
}

}  // namespace
}  // namespace tlbscope::collect

int main(int argc, char** argv) {
  using namespace tlbscope::collect;
  uint64_t events = 5'000'000;
  std::string dir = "/tmp";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) {
      events = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: tlbcollect_bench [--events N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  std::string one = dir + "/tlbcollect_bench_1x.trace", ten = dir + "/tlbcollect_bench_10x.trace";
  uint64_t n1 = Synthesize(one, events);
  uint64_t n10 = Synthesize(ten, events * 10);
  std::printf("synthesized %llu and %llu events (%s, %s)\n", (unsigned long long)n1,
              (unsigned long long)n10, one.c_str(), ten.c_str());
  ReplayOnce(one);  // warm the page cache
  double best = 0, best_cpu = 0;
  for (int i = 0; i < 5; ++i) {
    ReplayRun r = ReplayOnce(one);
    double rate = r.events / r.seconds, cpu_rate = r.events / r.cpu_seconds;
    best = std::max(best, rate);
    best_cpu = std::max(best_cpu, cpu_rate);
    std::printf(
        "replay 1x: %llu events in %.3f s wall (%.3f s CPU) = %.2f M events/s wall, %.2f M/s per "
        "CPU second (%llu violations)\n",
        (unsigned long long)r.events, r.seconds, r.cpu_seconds, rate / 1e6, cpu_rate / 1e6,
        (unsigned long long)r.violations);
  }
  ReplayRun r10 = ReplayOnce(ten);
  std::printf("replay 10x: %llu events in %.3f s = %.2f M events/s\n",
              (unsigned long long)r10.events, r10.seconds, r10.events / r10.seconds / 1e6);
  std::printf("best 1x rate: %.2f M events/s wall, %.2f M events per CPU second (target >= 10)\n",
              best / 1e6, best_cpu / 1e6);
  long rss1 = ChildPeakRssKib(one), rss10 = ChildPeakRssKib(ten);
  std::printf("peak RSS replaying 1x: %ld KiB, 10x: %ld KiB (ratio %.2f)\n", rss1, rss10,
              static_cast<double>(rss10) / rss1);
  if (!keep) {
    std::remove(one.c_str());
    std::remove(ten.c_str());
  }
  return 0;
}
