// --record and trace-info: complete, readable traces, also of runs that
// crashed or timed out, and clear errors for broken trace files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/run_helper.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

TEST(TraceTest, RecordedRunIsCompleteAndMatchesTheTrapLog) {
  REQUIRE_KVM();
  std::string trace = ::testing::TempDir() + "/trace_ok.trace";
  std::string log = ::testing::TempDir() + "/trace_ok.log";
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--record", trace, "--trap-log", log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<uint32_t, uint64_t> per_vcpu_seq;
  std::map<uint32_t, uint64_t> last_tsc;
  std::optional<v1::Event> first_trap, last_trap;
  uint64_t traps = 0;
  absl::StatusOr<TraceSummary> t = ReadTrace(trace, [&](const v1::Event& e) {
    EXPECT_EQ(e.vcpu_sequence(), per_vcpu_seq[e.vcpu()]++) << "per-vCPU order";
    EXPECT_GT(e.host_time_ns(), 0);
    if (e.has_cr3_write() || e.has_invlpg() || e.has_invpcid()) {
      ++traps;
      EXPECT_GT(e.guest_tsc(), 0u);
      EXPECT_GE(e.guest_tsc(), last_tsc[e.vcpu()]);
      last_tsc[e.vcpu()] = e.guest_tsc();
      if (!first_trap) first_trap = e;
      last_trap = e;
      EXPECT_FALSE(e.trap().strategy().empty());
      EXPECT_FALSE(e.trap().symbol().empty());
    }
  });
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->end.has_value());
  EXPECT_EQ(t->end->stop_reason(), "guest-exit");
  EXPECT_EQ(t->end->events(), t->events);
  EXPECT_EQ(traps, static_cast<uint64_t>(CountLines(ReadFile(log))));
  // The guest TSC advances with host time, at a plausible TSC frequency.
  ASSERT_TRUE(first_trap && last_trap);
  double ns = last_trap->host_time_ns() - first_trap->host_time_ns();
  double cycles = static_cast<double>(last_trap->guest_tsc() - first_trap->guest_tsc());
  ASSERT_GT(ns, 1e6) << "the run is too short to compare clocks";
  EXPECT_GT(cycles / ns, 0.2) << "GHz";
  EXPECT_LT(cycles / ns, 20.0) << "GHz";
  EXPECT_EQ(t->header.vm().smp(), 2u);
  EXPECT_EQ(t->header.kernel().sha256().size(), 64u);
  EXPECT_FALSE(t->header.traps().cr3().empty());

  ProcResult info = RunTlbscope({"trace-info", trace});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, ContainsRegex("events: +[0-9]+, sequence 0\\.\\.[0-9]+"));
  EXPECT_THAT(info.out, ContainsRegex("cr3_write +[0-9]+"));
  EXPECT_THAT(info.out, ContainsRegex("vcpu 1 +[0-9]+"));
  EXPECT_THAT(info.out, HasSubstr("end:        guest-exit, exit code 0"));
  ::unlink(trace.c_str());
  ::unlink(log.c_str());
}

TEST(TraceTest, CrashAndTimeoutTracesAreCompleteAndSayWhy) {
  REQUIRE_KVM();
  struct Case {
    const char* scenario;
    const char* reason;
    int exit_code;
  };
  for (const Case& c : {Case{"crash-pf", "guest-exception", 3}, Case{"hang", "timeout", 4},
                        Case{"triple-fault", "triple-fault", 3}}) {
    std::string trace = ::testing::TempDir() + "/trace_" + c.scenario + ".trace";
    ProcResult r = RunTlbscope({"run", "--smp", "2", "--timeout", "2", "--cmdline",
                                std::string("scenario=") + c.scenario, "--record", trace});
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    int stopped = 0;
    absl::StatusOr<TraceSummary> t = ReadTrace(trace, [&](const v1::Event& e) {
      if (e.has_vcpu_state() && e.vcpu_state().state() == v1::VcpuState::STOPPED) {
        ++stopped;
        EXPECT_NE(e.vcpu_state().rip(), 0u);
      }
    });
    ASSERT_TRUE(t.ok()) << c.scenario << ": " << t.status();
    ASSERT_TRUE(t->end.has_value()) << c.scenario;
    EXPECT_EQ(t->end->stop_reason(), c.reason);
    EXPECT_EQ(t->end->exit_code(), c.exit_code);
    EXPECT_EQ(stopped, 2) << "every vCPU says how it stopped";
    ::unlink(trace.c_str());
  }
}

class BrokenTraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveKvm()) GTEST_SKIP() << "/dev/kvm absent: no trace to break";
    // One file per test: ctest runs these tests in parallel processes.
    good_ = ::testing::TempDir() + "/trace_good_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".trace";
    ProcResult r = RunTlbscope({"run", "--record", good_, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    bytes_ = ReadFile(good_);
  }
  void TearDown() override { ::unlink(good_.c_str()); }
  std::string Write(const std::string& name, const std::string& content) {
    std::string p = ::testing::TempDir() + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  void ExpectError(const std::string& path, const std::string& needle) {
    ProcResult r = RunTlbscope({"trace-info", path});
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("tlbscope trace-info: error: trace " + path + ": "));
    EXPECT_THAT(r.err, HasSubstr(needle));
  }
  std::string good_, bytes_;
};

TEST_F(BrokenTraceTest, TruncatedMidRecord) {
  ExpectError(Write("trace_trunc.trace", bytes_.substr(0, bytes_.size() - 3)),
              "is truncated or corrupt");
}

TEST_F(BrokenTraceTest, CutAtARecordBoundaryIsReadableButSaysSo) {
  // Drop the end record: what a killed tlbscope leaves behind.
  absl::StatusOr<TraceSummary> full = ReadTrace(good_, nullptr);
  ASSERT_TRUE(full.ok());
  v1::TraceRecord end;
  *end.mutable_end() = *full->end;
  size_t end_size = end.ByteSizeLong() + 1;  // one varint length byte
  std::string p = Write("trace_cut.trace", bytes_.substr(0, bytes_.size() - end_size));
  ProcResult r = RunTlbscope({"trace-info", p});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("end:        none: the trace was cut short after"));
}

TEST_F(BrokenTraceTest, NotATrace) {
  ExpectError(Write("trace_text.trace", "hello, I am not a trace\n"), "");
  ExpectError(Write("trace_empty.trace", ""), "empty file, not a tlbscope trace");
  ExpectError("/nonexistent.trace", "No such file or directory");
}

}  // namespace
}  // namespace tlbscope::testing

namespace tlbscope::testing {
namespace {

// guest-probe's own view through its event rings: every CR3 write it makes
// is announced as a context switch just before the trapped write, and every
// IPI it sends is received.
TEST(GuestRingTest, ContextSwitchesPrecedeTheirCr3WritesAndIpisArrive) {
  REQUIRE_KVM();
  std::string trace = ::testing::TempDir() + "/guest_ring.trace";
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--record", trace, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<uint32_t, std::vector<v1::Event>> seq;  // context switches and non-boot CR3 writes
  std::map<std::pair<uint32_t, uint32_t>, int> sent, received;  // (cpu, vector)
  absl::StatusOr<TraceSummary> t = ReadTrace(trace, [&](const v1::Event& e) {
    if (e.has_context_switch()) seq[e.vcpu()].push_back(e);
    if (e.has_cr3_write() && e.trap().site_class() != "boot") seq[e.vcpu()].push_back(e);
    if (e.has_ipi_sent()) {
      for (uint32_t cpu : e.ipi_sent().target_cpus()) ++sent[{cpu, e.ipi_sent().vector()}];
    }
    if (e.has_ipi_received()) ++received[{e.vcpu(), e.ipi_received().vector()}];
  });
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(seq.size(), 2u);
  for (auto& [vcpu, evs] : seq) {
    ASSERT_EQ(evs.size(), 30u) << "selftest: 15 CR3 writes per CPU, each announced";
    for (size_t i = 0; i + 1 < evs.size(); i += 2) {
      ASSERT_TRUE(evs[i].has_context_switch()) << "vcpu " << vcpu << " #" << i;
      ASSERT_TRUE(evs[i + 1].has_cr3_write()) << "vcpu " << vcpu << " #" << i + 1;
      EXPECT_EQ(evs[i].context_switch().cr3(), evs[i + 1].cr3_write().new_cr3());
      // selftest switches raw address spaces, outside the mm model.
      EXPECT_TRUE(evs[i].context_switch().raw());
      EXPECT_EQ(evs[i].context_switch().prev_mm(), 0u);
      EXPECT_GT(evs[i].guest_tsc(), 0u);
    }
  }
  EXPECT_FALSE(sent.empty());
  EXPECT_EQ(sent, received) << "every IPI sent is received, once, by its target";
  ::unlink(trace.c_str());
}

}  // namespace
}  // namespace tlbscope::testing

namespace tlbscope::testing {
namespace {

// guest-probe's Linux-style shootdowns: the guest's flush requests and flush
// functions come through its rings, the INVLPGs and CR3 writes that carry
// them out through the traps, and both agree.
class ShootdownTest : public ::testing::TestWithParam<int> {};

TEST_P(ShootdownTest, GuestFlushesMatchTheTrappedInstructions) {
  REQUIRE_KVM();
  int smp = GetParam();
  std::string trace = ::testing::TempDir() + "/shootdown_" + std::to_string(smp) + ".trace";
  ProcResult r = RunTlbscope(
      {"run", "--smp", std::to_string(smp), "--cmdline", "scenario=shootdown", "--record", trace});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* check : {"shootdown_single", "shootdown_range", "shootdown_ceiling",
                            "shootdown_lazy_skipped", "shootdown_lazy_freed"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("PASS ") + check));
  }
  int requests = 0, lazy_enters = 0;
  std::map<uint32_t, int> flush_funcs, partial_pages_claimed, invlpgs;
  absl::StatusOr<TraceSummary> t = ReadTrace(trace, [&](const v1::Event& e) {
    if (e.has_flush_request()) ++requests;
    if (e.has_lazy_enter()) ++lazy_enters;
    if (e.has_flush_func()) {
      ++flush_funcs[e.vcpu()];
      const v1::FlushFunc& f = e.flush_func();
      if (!f.full() && f.local_gen_after() > f.local_gen_before()) {
        partial_pages_claimed[e.vcpu()] += static_cast<int>((f.end() - f.start()) / 4096);
      }
    }
    if (e.has_invlpg()) ++invlpgs[e.vcpu()];
  });
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(requests, 5) << "one per check";
  EXPECT_GE(lazy_enters, smp - 1);
  ASSERT_EQ(static_cast<int>(flush_funcs.size()), smp) << "every CPU ran flush_tlb_func";
  for (int v = 0; v < smp; ++v) {
    // A partial flush the guest claims is one INVLPG per page, each trapped
    // (selftest-style INVLPG checks are not part of this scenario).
    EXPECT_EQ(partial_pages_claimed[v], invlpgs[v]) << "vcpu " << v;
  }
  ::unlink(trace.c_str());
}

INSTANTIATE_TEST_SUITE_P(Smp, ShootdownTest, ::testing::Values(2, 4),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

}  // namespace
}  // namespace tlbscope::testing
