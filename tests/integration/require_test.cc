// `run --require FEATURE` on this host's KVM: a feature it does not offer a
// guest skips the run before it boots (exit 77, one line, results saying
// why); one it offers lets the run go on. Which is which comes from
// `tlbscope probe-host`, so the test holds on any host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/str_split.h"
#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

TEST(RequireRunTest, AFeatureTheHostLacksSkipsTheRunAndOneItOffersDoesNot) {
  REQUIRE_KVM();
  // "pcid no, invpcid no, lam no, pge yes, la57 yes"
  std::string cpuid = HostProbe("guest CPUID");
  ASSERT_FALSE(cpuid.empty());
  std::string lacking, offered;
  for (absl::string_view item : absl::StrSplit(cpuid, ", ")) {
    std::vector<std::string> kv = absl::StrSplit(item, ' ');
    ASSERT_EQ(kv.size(), 2u) << cpuid;
    std::string& slot = kv[1] == "yes" ? offered : lacking;
    if (slot.empty()) slot = kv[0];
  }
  if (!lacking.empty()) {
    std::string results = ::testing::TempDir() + "/require_" + std::to_string(getpid()) + ".json";
    ProcResult r = RunTlbscope({"run", "--require", lacking, "--results", results});
    EXPECT_EQ(r.exit_code, 77) << r.err;
    EXPECT_THAT(r.err, HasSubstr("tlbscope: skipped: this host's KVM"));
    EXPECT_THAT(r.err, HasSubstr("(--require " + lacking + ")"));
    EXPECT_EQ(r.out, "") << "nothing booted";
    EXPECT_THAT(ReadFile(results), HasSubstr("\"stopReason\": \"host-lacks-feature\""));
    ::unlink(results.c_str());
  }
  if (!offered.empty()) {
    ProcResult r =
        RunTlbscope({"run", "--kernel", TestKernel("mb_aout.bin"), "--require", offered});
    EXPECT_EQ(r.exit_code, 42) << r.err;  // the guest's own exit: it ran
  }
}

}  // namespace
}  // namespace tlbscope::testing
