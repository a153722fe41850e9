// --hold on guest-probe under KVM. In scenario=lazy-free at --smp 2, vCPU 1
// (the victim) calls kthread_begin and only then lets vCPU 0 go on
// (flag_add(&victim_lazy)); vCPU 0 reaches usys only after that. So holding
// vCPU 1 at kthread_begin until vCPU 0 reaches usys can never be released:
// it must time out, say where each vCPU was, let vCPU 1 go, and the run
// must still end normally and clean. (The release path is tested without
// KVM in tests/unit/hold_probes_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

TEST(HoldTest, AHoldThatCannotBeReleasedTimesOutAndSaysWhereEachVcpuWas) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--scenario", "lazy-free", "--hold",
                              "1:kthread_begin,release=0:usys,timeout=1s"});
  // 0: the guest's checks passed and the in-process collector found no
  // violation (it exits 8 otherwise).
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--hold 1:kthread_begin,release=0:usys,timeout=1s: breakpoints "
                               "placed"));
  EXPECT_THAT(r.err, HasSubstr("timed out after 1s: vCPU 1 held at 1:kthread_begin (rip 0x"));
  // vCPU 0 waits for vCPU 1's flag (in flag_wait, or where the compiler
  // inlined it into remap_when_ready).
  EXPECT_THAT(r.err, ContainsRegex("vCPU 0 never reached 0:usys \\(it is at "
                                   "(flag_wait|remap_when_ready)\\+0x[0-9a-f]+ \\(rip 0x"));
  EXPECT_THAT(r.err, HasSubstr("held 1, released 0, timed out 1, stopped 0"));
}

TEST(HoldTest, AnUnknownSiteIsRefusedBeforeTheGuestRuns) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--scenario", "lazy-free", "--hold",
                              "1:no_such_function,release=0:usys"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("1:no_such_function: no symbol 'no_such_function' in this kernel"));
}

}  // namespace
}  // namespace tlbscope::testing
