// The in-process collector (vmm/cli/collect_sink) takes the run's header
// before the events: a Linux run's verdict says which invariants it could
// not check, a guest-probe run's checks them all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmm/cli/collect_sink.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

v1::TraceHeader Header(const std::string& source, bool trapped) {
  v1::TraceHeader h;
  h.set_event_source(source);
  if (trapped) {
    h.mutable_traps()->set_cr3("hw-breakpoint+emulate");
    h.mutable_traps()->set_invlpg("hw-breakpoint+step");
  }
  return h;
}

TEST(CollectSinkHeaderTest, ALinuxRunsVerdictListsWhatItCouldNotCheck) {
  CollectSink sink;
  EventSink& as_sink = sink;
  as_sink.OnHeader(Header("linux", true));
  v1::CollectorVerdict v = sink.Verdict();
  EXPECT_EQ(v.verdict(), "clean");
  EXPECT_EQ(v.not_checked_size(), 6);
  ASSERT_TRUE(v.not_checked().contains("table-freed-while-walkable"));
  EXPECT_THAT(v.not_checked().at("table-freed-while-walkable"),
              HasSubstr("page_table_free records, which a Linux guest's probes do not supply"));
  EXPECT_FALSE(v.not_checked().contains("flush-done-before-acks"));
}

TEST(CollectSinkHeaderTest, AGuestProbeRunChecksEverythingItTrapped) {
  CollectSink trapped;
  static_cast<EventSink&>(trapped).OnHeader(Header("guest-rings", true));
  EXPECT_EQ(trapped.Verdict().not_checked_size(), 0);
  CollectSink untrapped;  // --no-trap: no plan in the header
  static_cast<EventSink&>(untrapped).OnHeader(Header("guest-rings", false));
  v1::CollectorVerdict v = untrapped.Verdict();
  EXPECT_EQ(v.not_checked_size(), 2);
  EXPECT_THAT(v.not_checked().at("cr3-write-unannounced"), HasSubstr("not trapped in this run"));
}

// The machine's side: the header says where the events come from, and the
// run's extra sinks get it before the pipeline starts.
TEST(CollectSinkHeaderTest, TheRunsHeaderNamesTheSourceAndReachesItsSinks) {
  MachineConfig config;
  LoadedKernel linux_kernel;
  linux_kernel.is_linux = true;
  TrapSummary no_traps;
  ProbeSummary probes;
  probes.enabled = true;
  v1::TraceHeader h = BuildHeader(config, linux_kernel, {}, nullptr, no_traps, &probes);
  EXPECT_EQ(h.event_source(), "linux");
  // Without its probes a Linux run's flushes are not the guest's to judge.
  probes.enabled = false;
  EXPECT_EQ(BuildHeader(config, linux_kernel, {}, nullptr, no_traps, &probes).event_source(),
            "linux-trapped");
  EXPECT_EQ(BuildHeader(config, linux_kernel, {}, nullptr, no_traps).event_source(),
            "linux-trapped");
  EXPECT_EQ(BuildHeader(config, LoadedKernel(), {}, nullptr, no_traps).event_source(),
            "guest-rings");
  CollectSink sink;
  config.extra_sinks.push_back(&sink);
  TracePipeline trace(1);
  absl::StatusOr<std::unique_ptr<TraceOutputs>> o = StartOutputs(config, h, trace);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(sink.Verdict().not_checked_size(), 8);  // Linux's 6 and, untrapped, 2 more
}

}  // namespace
}  // namespace tlbscope
