// --perfetto in both formats on synthetic streams (no KVM): the native
// trace decodes with protoc against the kept schema, has a track per vCPU,
// counter tracks per mm and per vCPU, and every flow it starts ends; the
// JSON export has no dangling flow either (an async flush's missing ack
// used to leave an "ack" flow start).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "collectors/perfetto_export.h"
#include "collectors/tlbcollect_cli.h"
#include "tests/collect/synth.h"
#include "tests/collect/tlbcollect_run.h"
#include "tests/eco/perfetto_check.h"
#include "tests/eco/process.h"
#include "vmm/cli/run_command.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::HasSubstr;

std::string Temp(const std::string& name) {
  return ::testing::TempDir() + "/eco_pf_" + std::to_string(getpid()) + "_" + name;
}

// Three vCPUs: a clean shootdown to all three, then an asynchronous flush
// whose flush_done comes before vCPU 1's ack, then vCPU 1 flushes late.
Synth AsyncFlushOnThree() { return AsyncFlushAfterShootdown(3); }

int Replay(const std::string& trace, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"replay", trace, "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Tlbcollect(args).status;
}

TEST(PerfettoExportTest, NativeTraceDecodesWithProtocAndEveryFlowEnds) {
  std::string trace = Temp("async.trace"), pf = Temp("async.pftrace");
  AsyncFlushOnThree().WriteTrace(trace, 3);
  ASSERT_EQ(Replay(trace, {"--perfetto", pf}), kExitViolations);

  eco::Output decoded = eco::Run(std::string(PROTOC_BIN) + " --decode perfetto.protos.Trace -I " +
                                 TLBSCOPE_SOURCE_DIR "/proto " TLBSCOPE_SOURCE_DIR
                                                     "/proto/perfetto/perfetto_trace.proto < " +
                                 pf);
  ASSERT_EQ(decoded.status, 0) << decoded.err;
  EXPECT_THAT(decoded.out, HasSubstr("thread_name: \"vCPU 2\""));
  EXPECT_THAT(decoded.out, HasSubstr("type: TYPE_COUNTER"));
  EXPECT_THAT(decoded.out, HasSubstr("terminating_flow_ids:"));
  EXPECT_EQ(decoded.err, "") << "no unknown fields against the kept schema";

  eco::PerfettoSummary s = eco::ReadProtoTrace(pf);
  ASSERT_EQ(s.error, "");
  EXPECT_EQ(s.thread_tracks, (std::set<std::string>{"vCPU 0", "vCPU 1", "vCPU 2"}));
  EXPECT_EQ(s.counter_tracks, (std::set<std::string>{"mm 2 tlb_gen", "vCPU 0 local gen",
                                                     "vCPU 1 local gen", "vCPU 2 local gen"}));
  EXPECT_EQ(s.counter_values["mm 2 tlb_gen"], 2) << "one per flush_request";
  EXPECT_GT(s.counter_values["vCPU 1 local gen"], 1);
  EXPECT_EQ(s.slices, static_cast<int>(AsyncFlushOnThree().events().size()));
  EXPECT_EQ(s.unbalanced_slices, 0);
  EXPECT_EQ(s.violations, 1);
  // Shootdown flows: 3 targets of the first request, 2 of the second (vCPU
  // 1's ends at its late flush_tlb_func). Acks: 3 for the first, only vCPU
  // 0's for the second (vCPU 1 never acked before the flush_done).
  EXPECT_EQ(s.flows["shootdown"], 5);
  EXPECT_EQ(s.flows["ack"], 4);
  EXPECT_EQ(s.dangling, 0);
}

TEST(PerfettoExportTest, JsonExportHasNoDanglingFlowEither) {
  std::string trace = Temp("async2.trace"), pf = Temp("async2.json");
  AsyncFlushOnThree().WriteTrace(trace, 3);
  ASSERT_EQ(Replay(trace, {"--perfetto", pf}), kExitViolations);
  eco::PerfettoSummary s = eco::ReadJsonTrace(pf);
  ASSERT_EQ(s.error, "");
  EXPECT_EQ(s.thread_tracks, (std::set<std::string>{"vCPU 0", "vCPU 1", "vCPU 2"}));
  EXPECT_TRUE(s.counter_tracks.contains("mm 2 tlb_gen"));
  EXPECT_EQ(s.flows["shootdown"], 5);
  EXPECT_EQ(s.flows["ack"], 4);
  EXPECT_EQ(s.dangling, 0);
  EXPECT_EQ(s.violations, 1);
}

TEST(PerfettoExportTest, FormatByExtensionOrFlag) {
  std::string trace = Temp("fmt.trace");
  AsyncFlushOnThree().WriteTrace(trace, 3);
  std::string a = Temp("a.json"), b = Temp("b.json"), c = Temp("c.trace-out");
  ASSERT_EQ(Replay(trace, {"--perfetto", a}), kExitViolations);
  ASSERT_EQ(Replay(trace, {"--perfetto", b, "--perfetto-format", "proto"}), kExitViolations);
  ASSERT_EQ(Replay(trace, {"--perfetto", c, "--perfetto-format=json"}), kExitViolations);
  EXPECT_EQ(eco::ReadFile(a).substr(0, 1), "{");
  EXPECT_EQ(eco::ReadProtoTrace(b).error, "");
  EXPECT_EQ(eco::ReadFile(c).substr(0, 1), "{");
  EXPECT_EQ(ResolvePerfettoFormat("x.pftrace", PerfettoFormat::kAuto), PerfettoFormat::kProto);
  FILE* err = std::tmpfile();
  EXPECT_EQ(
      RunTlbcollect({"replay", trace, "--perfetto", a, "--perfetto-format", "xml"}, stdout, err),
      kExitUsage);
  EXPECT_THAT(eco::ReadAll(err), HasSubstr("--perfetto-format 'xml': must be json, proto or auto"));
}

// --perfetto goes through the output-file policy (common/output_file.h):
// a device node or a symlink is refused with one line naming it, in both
// formats, and nothing is written through it.
TEST(PerfettoExportTest, DeviceNodesAndSymlinksAreRefused) {
  std::string trace = Temp("policy.trace");
  AsyncFlushOnThree().WriteTrace(trace, 3);
  std::string target = Temp("policy-target.json"), link = Temp("policy-link.json");
  std::remove(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  for (const char* format : {"json", "proto"}) {
    for (const std::string& path : {std::string("/dev/null"), link}) {
      FILE* err = std::tmpfile();
      EXPECT_EQ(RunTlbcollect({"replay", trace, "--perfetto", path, "--perfetto-format", format},
                              stdout, err),
                kExitUsage)
          << path;
      std::string text = eco::ReadAll(err);
      EXPECT_THAT(text, HasSubstr("--perfetto " + path)) << text;
      EXPECT_THAT(text, HasSubstr("tlbscope writes only regular files")) << text;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(target)) << "nothing written through the link";
}

TEST(PerfettoExportTest, RunTakesTheFormatToo) {
  absl::StatusOr<RunOptions> ok =
      ParseRunArgs({"--collect-perfetto", "x.json", "--perfetto-format", "proto"}, "/k");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->perfetto_format, "proto");
  absl::StatusOr<RunOptions> bad = ParseRunArgs({"--perfetto-format=xml"}, "/k");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--perfetto-format 'xml': must be json, proto or auto");
}

}  // namespace
}  // namespace tlbscope::collect::testing
