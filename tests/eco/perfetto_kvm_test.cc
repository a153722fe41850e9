// A native Perfetto trace of a real guest-probe seed scenario (KVM).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/eco/perfetto_check.h"
#include "tests/eco/process.h"
#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

TEST(PerfettoKvmTest, SeedScenarioTraceHasTracksCountersAndClosedFlows) {
  REQUIRE_KVM();
  std::string dir = ::testing::TempDir() + "/eco_pfkvm_" + std::to_string(getpid());
  std::string pf = dir + ".pftrace", js = dir + ".json";
  for (const std::string& out : {pf, js}) {
    ProcResult r = RunTlbscope({"run", "--smp", "4", "--scenario", "async-flush", "--inject-bug",
                                "--quiet", "--collect-perfetto", out});
    EXPECT_NE(r.exit_code, 2) << r.err;
    EXPECT_NE(r.exit_code, 5) << r.err;
  }
  eco::Output decoded = eco::Run(std::string(PROTOC_BIN) + " --decode perfetto.protos.Trace -I " +
                                 TLBSCOPE_SOURCE_DIR "/proto " TLBSCOPE_SOURCE_DIR
                                                     "/proto/perfetto/perfetto_trace.proto < " +
                                 pf + " > /dev/null");
  EXPECT_EQ(decoded.status, 0) << decoded.err;
  for (const eco::PerfettoSummary& s : {eco::ReadProtoTrace(pf), eco::ReadJsonTrace(js)}) {
    ASSERT_EQ(s.error, "");
    EXPECT_EQ(s.thread_tracks, (std::set<std::string>{"vCPU 0", "vCPU 1", "vCPU 2", "vCPU 3"}));
    EXPECT_TRUE(s.counter_tracks.contains("vCPU 1 local gen"));
    bool mm_counter = false;
    for (const std::string& c : s.counter_tracks)
      mm_counter |= c.find("tlb_gen") != std::string::npos;
    EXPECT_TRUE(mm_counter);
    EXPECT_GT(s.flows.at("shootdown"), 0);
    EXPECT_GT(s.flows.at("ack"), 0);
    EXPECT_EQ(s.dangling, 0);
    EXPECT_GE(s.violations, 1) << "the injected bug";
  }
  ::unlink(pf.c_str());
  ::unlink(js.c_str());
}

}  // namespace
}  // namespace tlbscope::testing
