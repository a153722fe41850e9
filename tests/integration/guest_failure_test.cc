// A guest that crashes, hangs or misbehaves: one clear line naming the vCPU,
// the RIP and the reason; a non-zero exit; never a hang.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

ProcResult RunScenario(const std::string& scenario, int smp, double timeout_s = 30) {
  return RunTlbscope({"run", "--smp", std::to_string(smp), "--cmdline", "scenario=" + scenario,
                      "--timeout", std::to_string(timeout_s)},
                     90);
}

TEST(GuestFailureTest, PageFaultIsReported) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("crash-pf", 2);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err,
              ContainsRegex("tlbscope: vcpu [0-9]+: guest exception #PF \\(vector 14\\) at "
                            "rip 0x[0-9a-f]+, error code 0x[0-9a-f]+, cr2 0x700000000000\n"));
  // The stop line comes first; trap and check summaries may follow.
  EXPECT_THAT(r.err.substr(0, r.err.find('\n')), HasSubstr("guest exception #PF")) << r.err;
}

TEST(GuestFailureTest, AssertCarriesFileAndLine) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("assert", 1);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, ContainsRegex("vcpu 0: guest assertion failed at [a-z_./]+\\.c:[0-9]+: "));
}

TEST(GuestFailureTest, HangIsStoppedByTimeout) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("hang", 2, 2);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("guest did not finish within --timeout 2 s"));
  EXPECT_THAT(r.err, ContainsRegex("vcpu 0 was at rip 0x[0-9a-f]+"));
  EXPECT_THAT(r.err, ContainsRegex("vcpu 1 was at rip 0x[0-9a-f]+"));
}

TEST(GuestFailureTest, TripleFaultIsShutdown) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("triple-fault", 1);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, ContainsRegex("vcpu 0: guest shut down \\(triple fault\\) at rip 0x"));
}

TEST(GuestFailureTest, UnknownPortNamesPortAndRip) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("bad-port", 1);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, ContainsRegex("vcpu 0: write of 0x[0-9a-f]+ to unknown I/O port 0x1234 "
                                   "\\(size [124]\\) at rip 0x"));
}

TEST(GuestFailureTest, GuestExitCodeIsPassedThrough) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("exit-code", 1);
  EXPECT_EQ(r.exit_code, 7) << r.err;
}

// guest-probe's hostile-ring rewrites its ring header after registration
// (nslots 2^30, tail rewound, head 2^62): the VMM refuses that ring with
// one line, neither crashes nor spins, and keeps the events drained before.
TEST(GuestFailureTest, AHostileRingHeaderIsRefusedAndTheRunGoesOn) {
  REQUIRE_KVM();
  std::string trace = ::testing::TempDir() + "/hostile_ring_" + std::to_string(::getpid());
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--cmdline", "scenario=hostile-ring",
                              "--timeout", "30", "--no-collect", "--record", trace},
                             90);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ContainsRegex("tlbscope: vcpu 0: guest event ring is corrupt \\(head "
                                   "4611686018427387904, consumed [0-9]+, 256 slots\\)"));
  ProcResult info = RunTlbscope({"trace-info", trace});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, ContainsRegex("ipi_received +[3-9]"));
  std::remove(trace.c_str());
}

TEST(GuestFailureTest, UnknownScenarioFailsCleanly) {
  REQUIRE_KVM();
  ProcResult r = RunScenario("no-such-scenario", 1);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("no-such-scenario"));
}

TEST(GuestFailureTest, SigtermStopsCleanlyAndReportsWhereVcpusWere) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--cmdline", "scenario=hang"}, 90,
                             /*term_after_ms=*/1500);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_THAT(r.err, HasSubstr("stopped by signal 15"));
  EXPECT_THAT(r.err, ContainsRegex("vcpu 1 was at rip 0x[0-9a-f]+"));
}

}  // namespace
}  // namespace tlbscope::testing
