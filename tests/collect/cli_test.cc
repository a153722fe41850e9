// tlbcollect's command line, outputs and bad-input handling (no KVM:
// synthetic trace files; live against nothing).
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "collectors/json.h"
#include "collectors/tlbcollect_cli.h"
#include "collectors/violation.h"
#include "tests/collect/synth.h"
#include "tests/collect/tlbcollect_run.h"
#include "tests/common/text_file.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::tlbscope::testing::ReadFile;

std::string Temp(const std::string& name) { return ::testing::TempDir() + "/cli_" + name; }

google::protobuf::Struct ParseJson(const std::string& text) {
  google::protobuf::Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// Two vCPUs; an asynchronous flush (flush_done before vCPU 1's ack).
Synth AsyncFlush() { return AsyncFlushAfterShootdown(2); }

TEST(TlbcollectCliTest, BadArgumentsAreOneLineAndStatus2) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"replay"},
                                             {"replay", "a", "b"},
                                             {"replay", "x", "--bogus"},
                                             {"replay", "x", "--json"},
                                             {"live", "1", "--connect-timeout", "soon"},
                                             {"replay", "x", "--token-file", "t"}}) {
    CliRun r = Tlbcollect(args);
    EXPECT_EQ(r.status, kExitUsage) << ::testing::PrintToString(args);
    EXPECT_THAT(r.err, HasSubstr("tlbcollect: error: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(Tlbcollect({"--help"}).status, 0);
  CliRun inv = Tlbcollect({"invariants"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_THAT(inv.out, HasSubstr("nested-gather-underflush"));
}

TEST(TlbcollectCliTest, UnwritableOutputIsBadInputBeforeReading) {
  std::string trace = Temp("clean.trace");
  AsyncFlush().WriteTrace(trace, 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", "/nonexistent-dir/x.json"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--json /nonexistent-dir/x.json"));
  EXPECT_THAT(r.out, Not(HasSubstr("VIOLATION")));
}

// One schema for a violation: the summary JSON's violation has exactly the
// fields of tlbscope.v1.CollectorViolation (what RunResult's collector.found
// carries), and the same values as ViolationToProto gives.
TEST(TlbcollectCliTest, SummaryViolationIsTheRunResultSchema) {
  std::string trace = Temp("schema.trace"), json = Temp("schema.json");
  AsyncFlush().WriteTrace(trace, 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", json, "--quiet"});
  ASSERT_EQ(r.status, kExitViolations) << r.err;
  google::protobuf::Struct s = ParseJson(ReadFile(json));
  const auto& v = s.fields().at("violations").list_value().values(0).struct_value().fields();
  std::set<std::string> json_names, proto_names;
  for (const auto& [k, unused] : v) json_names.insert(k);
  const google::protobuf::Descriptor* d = v1::CollectorViolation::descriptor();
  for (int i = 0; i < d->field_count(); ++i) proto_names.insert(d->field(i)->name());
  EXPECT_EQ(json_names, proto_names);
  // The JSON, read back as the proto (numbers accepted for uint64), is the
  // violation's proto.
  std::string one;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                  s.fields().at("violations").list_value().values(0), &one)
                  .ok());
  v1::CollectorViolation back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(one, &back).ok()) << one;
  EXPECT_EQ(back.invariant(), "flush-done-before-acks");
  EXPECT_EQ(back.gens().at("tlb_gen"), 3u);
  EXPECT_EQ(back.vcpus_size(), 2);
  EXPECT_FALSE(back.key_seqs().empty());
  Violation x{"inv", {0, 1}, 7, {{"tlb_gen", 4}, {"local_gen", 2}}, 10, 17, {10, 17}, "m"};
  v1::CollectorViolation p = ViolationToProto(x);
  EXPECT_EQ(p.gens().at("local_gen"), 2u);
  EXPECT_THAT(p.key_seqs(), ::testing::ElementsAre(10u, 17u));
  EXPECT_EQ(p.first_seq(), 10u);
  EXPECT_EQ(p.last_seq(), 17u);
}

TEST(TlbcollectCliTest, ViolationsArePrintedWrittenAndExitStatus1) {
  std::string trace = Temp("async.trace"), json = Temp("async.json"),
              pf = Temp("async.perfetto.json");
  AsyncFlush().WriteTrace(trace, 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", json, "--perfetto", pf});
  EXPECT_EQ(r.status, kExitViolations) << r.err;
  EXPECT_THAT(r.out, HasSubstr("tlbcollect: VIOLATION flush-done-before-acks: mm 2, vcpu 0,1"));
  EXPECT_THAT(r.out, HasSubstr("verdict: 1 violations: flush-done-before-acks 1"));
  EXPECT_EQ(r.err, "");
  google::protobuf::Struct s = ParseJson(ReadFile(json));
  const auto& f = s.fields();
  EXPECT_EQ(f.at("verdict").string_value(), "violations");
  EXPECT_TRUE(f.at("complete").bool_value());
  const auto& v = f.at("violations").list_value().values(0).struct_value().fields();
  EXPECT_EQ(v.at("invariant").string_value(), "flush-done-before-acks");
  EXPECT_EQ(v.at("gens").struct_value().fields().at("tlb_gen").number_value(), 3);
  EXPECT_LT(v.at("first_seq").number_value(), v.at("last_seq").number_value());
  EXPECT_EQ(f.at("vcpus").list_value().values_size(), 2);
  const auto& stats = f.at("stats").struct_value().fields();
  EXPECT_EQ(stats.at("flush_requests").struct_value().fields().at("total").number_value(), 2);
  EXPECT_EQ(stats.at("ipi_fanout").struct_value().fields().at("1").number_value(), 2);
  EXPECT_GT(stats.at("shootdown_latency_ns").struct_value().fields().at("count").number_value(), 0);
}

// A file name is bytes, not UTF-8: one that is not valid UTF-8 (here in
// the summary's "source") is written with U+FFFD for its bad bytes, not an
// exception out of the JSON library.
TEST(TlbcollectCliTest, ANonUtf8FileNameStillGivesValidJson) {
  std::string trace = Temp("latin1-\xe9t\xe9.trace"), json = Temp("latin1.json"),
              pf = Temp("latin1.perfetto.json");
  AsyncFlush().WriteTrace(trace, 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", json, "--perfetto", pf, "--quiet"});
  ASSERT_EQ(r.status, kExitViolations) << r.err;
  google::protobuf::Struct s = ParseJson(ReadFile(json));  // protobuf insists on UTF-8
  EXPECT_EQ(s.fields().at("source").string_value(),
            "replay " + Temp("latin1-\xef\xbf\xbdt\xef\xbf\xbd.trace"));
  ParseJson(ReadFile(pf));
  EXPECT_EQ(DumpJson(Json("a\xff\xfe")), "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
  std::remove(trace.c_str());
}

TEST(TlbcollectCliTest, PerfettoTraceHasATrackPerVcpuAndShootdownFlows) {
  std::string trace = Temp("flows.trace"), pf = Temp("flows.perfetto.json");
  AsyncFlush().WriteTrace(trace, 2);
  ASSERT_EQ(Tlbcollect({"replay", trace, "--perfetto", pf}).status, kExitViolations);
  google::protobuf::Struct s = ParseJson(ReadFile(pf));
  const auto& events = s.fields().at("traceEvents").list_value().values();
  std::set<int> named, sliced;
  std::map<std::string, std::map<std::string, std::set<int>>> flows;  // cat -> ph -> tids
  std::map<double, std::set<std::string>> flow_phases;                // id -> phases
  int violations = 0;
  for (const auto& ev : events) {
    const auto& e = ev.struct_value().fields();
    std::string ph = e.at("ph").string_value();
    int tid = e.contains("tid") ? static_cast<int>(e.at("tid").number_value()) : -1;
    if (ph == "M" && e.at("name").string_value() == "thread_name") {
      named.insert(tid);
      EXPECT_EQ(e.at("args").struct_value().fields().at("name").string_value(),
                "vCPU " + std::to_string(tid));
    }
    if (ph == "X") {
      sliced.insert(tid);
      EXPECT_GE(e.at("dur").number_value(), 0);
    }
    if (ph == "s" || ph == "t" || ph == "f") {
      flows[e.at("cat").string_value()][ph].insert(tid);
      if (e.at("cat").string_value() == "shootdown") {
        flow_phases[e.at("id").number_value()].insert(ph);
      }
      EXPECT_EQ(e.at("bp").string_value(), "e");
    }
    if (ph == "i") ++violations;
  }
  EXPECT_EQ(named, (std::set<int>{0, 1}));
  EXPECT_EQ(sliced, (std::set<int>{0, 1}));
  EXPECT_EQ(flows["shootdown"]["s"], std::set<int>{0}) << "from the initiator";
  EXPECT_EQ(flows["shootdown"]["t"], std::set<int>{0}) << "through its IPI";
  EXPECT_EQ(flows["shootdown"]["f"], (std::set<int>{0, 1})) << "to every target's flush_tlb_func";
  EXPECT_EQ(flows["ack"]["f"], std::set<int>{0}) << "acks end at the flush_done";
  int complete_remote = 0;
  for (const auto& [id, phases] : flow_phases) {
    if (phases == std::set<std::string>{"s", "t", "f"}) ++complete_remote;
  }
  EXPECT_EQ(complete_remote, 2) << "one request -> IPI -> flush_func flow per remote target";
  EXPECT_EQ(violations, 1);
}

TEST(TlbcollectCliTest, MissingAndTruncatedTracesKeepWhatWasFound) {
  CliRun missing = Tlbcollect({"replay", Temp("nope.trace")});
  EXPECT_EQ(missing.status, kExitInput);
  EXPECT_THAT(missing.err, HasSubstr(Temp("nope.trace")));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);
  CliRun dir = Tlbcollect({"replay", ::testing::TempDir()});
  EXPECT_EQ(dir.status, kExitInput);
  EXPECT_THAT(dir.err, HasSubstr("is a directory, not a trace file"));

  std::string trace = Temp("trunc.trace"), json = Temp("trunc.json");
  Synth s = AsyncFlush();
  s.UserEnter(0, 2, 3, 3);  // one more event after the violation
  s.WriteTrace(trace, 2, /*with_end=*/false);
  std::string bytes = ReadFile(trace);
  std::ofstream(trace, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", json});
  EXPECT_EQ(r.status, kExitViolations) << "the violation found before the cut decides";
  EXPECT_THAT(r.out, HasSubstr("VIOLATION flush-done-before-acks"));
  EXPECT_THAT(r.out, HasSubstr("(the stream ended early)"));
  EXPECT_THAT(r.err, HasSubstr("is truncated or corrupt"));
  google::protobuf::Struct j = ParseJson(ReadFile(json));
  EXPECT_FALSE(j.fields().at("complete").bool_value());
  EXPECT_THAT(j.fields().at("input_error").string_value(), HasSubstr("truncated or corrupt"));
  EXPECT_EQ(j.fields().at("violation_count").number_value(), 1);

  // Cut between records, nothing wrong in it: status 3, says so.
  Synth clean;
  clean.Cr3(0, RootOf(kInit), true);
  clean.SwitchTo(0, kInit, 2);
  clean.WriteTrace(trace, 1, /*with_end=*/false);
  CliRun c = Tlbcollect({"replay", trace});
  EXPECT_EQ(c.status, kExitInput);
  EXPECT_THAT(c.err, HasSubstr("no end record: it was cut short after 4 events"));
  EXPECT_THAT(c.out, HasSubstr("verdict: clean"));
}

// The output policy (common/output_file.h): a device node or a symlink as
// --json is refused before anything is read, and left as it was.
TEST(TlbcollectCliTest, ADeviceOrASymlinkAsJsonIsRefusedAndLeftAlone) {
  std::string trace = Temp("policy.trace");
  AsyncFlush().WriteTrace(trace, 2);
  CliRun r = Tlbcollect({"replay", trace, "--json", "/dev/full"});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--json /dev/full: is a character device; tlbscope writes only "
                               "regular files"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  struct stat st;
  ASSERT_EQ(::lstat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/full is still a device";
  std::string target = Temp("policy_target"), link = Temp("policy_link");
  std::ofstream(target) << "precious\n";
  std::remove(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  r = Tlbcollect({"replay", trace, "--json", link});
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--json " + link + ": is a symlink"));
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(ReadFile(target), "precious\n");
  std::remove(link.c_str());
  std::remove(target.c_str());
}

// --token-file is read with a bound: /dev/zero is one line and status 3,
// not a process that grows until the OOM killer.
TEST(TlbcollectCliTest, AnEndlessTokenFileIsRefused) {
  CliRun r = Tlbcollect({"live", "127.0.0.1:1", "--token-file", "/dev/zero"});
  EXPECT_EQ(r.status, kExitInput);
  EXPECT_THAT(r.err, HasSubstr("--token-file /dev/zero: larger than 4096 bytes"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(TlbcollectCliTest, UnreachableAddressIsOneLine) {
  CliRun r = Tlbcollect({"live", "127.0.0.1:1", "--connect-timeout", "0.5"});
  EXPECT_EQ(r.status, kExitInput);
  EXPECT_THAT(r.err, HasSubstr("cannot reach 127.0.0.1:1"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  CliRun t = Tlbcollect({"live", "1", "--token-file", Temp("no-token")});
  EXPECT_EQ(t.status, kExitInput);
  EXPECT_THAT(t.err, HasSubstr("--token-file"));
}

}  // namespace
}  // namespace tlbscope::collect::testing
