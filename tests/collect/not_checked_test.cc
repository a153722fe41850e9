// Invariants a stream cannot check say "not checked": a Linux guest's
// probes supply fewer fields than guest-probe's rings (docs/events.md), and
// --no-trap leaves nothing to cross-check against the hardware.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "collectors/tlbcollect_cli.h"
#include "tests/collect/synth.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kMm = 2;
constexpr uint64_t kLam57 = 1ull << 61;

// An asynchronous flush whose page is freed before the remote flush ran:
// flush-done-before-acks (from fields Linux has) and page-freed-while-mapped
// (from page_free, which Linux's probes do not emit); a lazy CPU back in user
// mode with a stale LAM (lam-mismatch, from LAM bits Linux does not read).
Synth Broken() {
  Synth s = BootedInto(2, kMm);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  s.IpiSent(0, 1);
  s.Invlpg(0, 0x8000001000);
  s.FlushFunc(0, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.FlushDone(0, kMm, 2, 0b01);
  s.PageFree(0, kMm, 0x8000001000, 2);
  s.IpiReceived(1);
  s.Invlpg(1, 0x8000001000);
  s.FlushFunc(1, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.LazyEnter(1, kMm);
  s.LamSet(0, kMm, kLam57);
  s.ContextSwitch(1, kMm, kMm, 0, /*was_lazy=*/true, false, 0, kLam57);
  s.LazyExit(1, kMm, false);
  s.UserEnter(1, kMm, 2, 2, 0);
  return s;
}

std::vector<std::string> Names(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [name, why] : m) out.push_back(name);
  return out;
}

TEST(NotCheckedTest, GuestRingsCheckEverything) {
  Collector c;
  EXPECT_THAT(Broken().Check(&c),
              ElementsAre("flush-done-before-acks", "page-freed-while-mapped", "lam-mismatch"));
  EXPECT_THAT(c.not_checked(), IsEmpty());
  c.SetEventSource("guest-rings");
  EXPECT_THAT(c.not_checked(), IsEmpty());
}

TEST(NotCheckedTest, ALinuxStreamChecksOnlyWhatItsFieldsAllow) {
  Collector c;
  c.SetEventSource("linux");
  EXPECT_THAT(Broken().Check(&c), ElementsAre("flush-done-before-acks"));
  EXPECT_THAT(Names(c.not_checked()),
              ElementsAre("lam-mismatch", "page-freed-while-mapped", "stale-read-observed",
                          "table-freed-while-walkable", "unlazy-without-sync-core",
                          "user-return-stale-gen"));
  EXPECT_THAT(c.not_checked().at("page-freed-while-mapped"),
              HasSubstr("needs page_free records, which a Linux guest's probes do not supply"));
  EXPECT_THAT(c.not_checked().at("lam-mismatch"), HasSubstr("LAM bits"));
  EXPECT_EQ(c.per_invariant().at("page-freed-while-mapped"), 0u);
  EXPECT_EQ(c.per_invariant().at("lam-mismatch"), 0u);
  EXPECT_EQ(c.violation_count(), 1u);
}

// The trace header's linux_events name what this kernel's probes supply
// beyond the base set; each adds what it feeds, an unknown word nothing.
TEST(NotCheckedTest, ALinuxStreamChecksWhatItsProbesSupply) {
  Collector c;
  c.SetEventSource("linux", {"page_free", "user_enter", "martian"});
  EXPECT_THAT(Broken().Check(&c), ElementsAre("flush-done-before-acks", "page-freed-while-mapped"));
  EXPECT_THAT(Names(c.not_checked()),
              ElementsAre("lam-mismatch", "stale-read-observed", "table-freed-while-walkable",
                          "unlazy-without-sync-core"));
  EXPECT_THAT(c.not_checked().at("unlazy-without-sync-core"),
              HasSubstr("needs membarrier_register/sync_core records"));
  c.SetEventSource("linux", {"page_free", "user_enter", "page_table_free", "membarrier"});
  EXPECT_THAT(Names(c.not_checked()), ElementsAre("lam-mismatch", "stale-read-observed"));
  v1::TraceHeader h;
  h.set_event_source("linux");
  h.add_linux_events("page_table_free");
  Collector from_header;
  from_header.SetHeader(h);
  EXPECT_FALSE(from_header.not_checked().contains("table-freed-while-walkable"));
  EXPECT_TRUE(from_header.not_checked().contains("page-freed-while-mapped"));
}

TEST(NotCheckedTest, WithoutTrapsTheHardwareCrossChecksAreNotChecked) {
  Collector c;
  c.SetTrapping({false, false, false});
  EXPECT_THAT(c.not_checked(),
              UnorderedElementsAre(Pair("flush-without-instruction",
                                        "needs trapped TLB instructions, not trapped in this run"),
                                   Pair("cr3-write-unannounced",
                                        "needs trapped CR3 writes, not trapped in this run")));
  c.SetTrapping({false, true, false});  // INVLPG only
  EXPECT_THAT(Names(c.not_checked()), ElementsAre("cr3-write-unannounced"));
}

TEST(NotCheckedTest, AnUnknownSourceSuppliesNoOptionalField) {
  Collector c;
  c.SetEventSource("martian");
  EXPECT_EQ(c.not_checked().size(), 9u);  // Linux's 6 and the three on the guest's TLB events
  EXPECT_THAT(c.not_checked().at("stale-read-observed"), HasSubstr("event source 'martian'"));
}

// A Linux run without its probes has trapped instructions only: no flush
// request, flush_tlb_func or gather of the guest's, so the invariants on
// them must not pass an empty stream as clean.
TEST(NotCheckedTest, ALinuxRunWithoutProbesChecksOnlyTheTrappedInstructions) {
  Collector c;
  c.SetEventSource("linux-trapped");
  EXPECT_THAT(Broken().Check(&c), IsEmpty());
  EXPECT_THAT(Names(c.not_checked()),
              ElementsAre("cr3-write-unannounced", "flush-done-before-acks", "lam-mismatch",
                          "nested-gather-underflush", "page-freed-while-mapped",
                          "stale-read-observed", "table-freed-while-walkable",
                          "unlazy-without-sync-core", "user-return-stale-gen"));
  EXPECT_THAT(c.not_checked().at("flush-done-before-acks"),
              HasSubstr("needs the guest's TLB events (context switches, flush requests and "
                        "flush_tlb_func, gathers), which a Linux run without its probes does not "
                        "supply"));
}

TEST(NotCheckedTest, TheSummaryAndJsonOfAReplaySayWhichAndWhy) {
  std::string trace = ::testing::TempDir() + "/not_checked.trace";
  std::string json = ::testing::TempDir() + "/not_checked.json";
  Broken().WriteTrace(trace, 2, true, "linux");
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  int status = RunTlbcollect({"replay", trace, "--json", json}, out, err);
  std::rewind(out);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) text.append(buf, n);
  std::fclose(out);
  std::fclose(err);
  EXPECT_EQ(status, 1);  // flush-done-before-acks stands
  EXPECT_THAT(text, HasSubstr("tlbcollect: not checked: page-freed-while-mapped: needs page_free "
                              "records, which a Linux guest's probes do not supply"));
  EXPECT_THAT(text, HasSubstr("verdict: 1 violations: flush-done-before-acks 1 (4 invariants "
                              "checked, 6 not checked)"));
  EXPECT_THAT(text, Not(HasSubstr("VIOLATION lam-mismatch")));
  std::ifstream f(json);
  std::stringstream ss;
  ss << f.rdbuf();
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ss.str(), &s).ok()) << ss.str();
  const auto& nc = s.fields().at("not_checked").struct_value().fields();
  EXPECT_EQ(nc.size(), 6u);
  EXPECT_THAT(nc.at("user-return-stale-gen").string_value(), HasSubstr("user_enter"));
  EXPECT_EQ(s.fields().at("violation_count").number_value(), 1);
}

}  // namespace
}  // namespace tlbscope::collect::testing
