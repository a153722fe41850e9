// Trapping on a real guest: every TLB instruction guest-probe executes on
// every vCPU is trapped and decoded, whichever strategy this host needs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "tests/integration/run_helper.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

struct LoggedEvent {
  int vcpu;
  int seq;
  std::string kind;
  std::string line;
};

std::vector<LoggedEvent> ParseTrapLog(const std::string& text) {
  std::vector<LoggedEvent> out;
  std::istringstream in(text);
  std::string line;
  std::regex head(R"(^vcpu (\d+) #(\d+) (\S+) )");
  while (std::getline(in, line)) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(line, m, head)) << line;
    if (m.empty()) continue;
    out.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3], line});
  }
  return out;
}

uint64_t Hex(const std::string& line, const std::string& before) {
  size_t p = line.find(before);
  EXPECT_NE(p, std::string::npos) << before << " in " << line;
  return std::stoull(line.substr(p + before.size()), nullptr, 16);
}

// (smp, --breakpoints): hardware breakpoints by default, int3 on every site
// with "sw" (INVLPG then steps with the other vCPUs parked).
class TrapSmpTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(TrapSmpTest, EveryGuestTlbInstructionIsTrappedAndDecoded) {
  REQUIRE_KVM();
  auto [smp, breakpoints] = GetParam();
  if (breakpoints == "sw") {
    if (HostProbe("beyond 4 sites").rfind("sw-breakpoint (int3", 0) != 0) {
      GTEST_SKIP() << "this host has no software breakpoints";
    }
  }
  std::string log = ::testing::TempDir() + "/trap_" + std::to_string(smp) + breakpoints + ".log";
  ProcResult r = RunTlbscope(
      {"run", "--smp", std::to_string(smp), "--breakpoints", breakpoints, "--trap-log", log});
  ASSERT_EQ(r.exit_code, 0) << r.err << GrepLines(r.out, "FAIL");  // 6: a coverage mismatch
  EXPECT_THAT(r.err, HasSubstr("trap coverage: every TLB instruction the guest counted on " +
                               std::to_string(smp) + " vCPUs was trapped"));
  std::vector<LoggedEvent> events = ParseTrapLog(ReadFile(log));
  std::map<int, std::vector<LoggedEvent>> by_vcpu;
  for (const LoggedEvent& e : events) by_vcpu[e.vcpu].push_back(e);
  ASSERT_EQ(static_cast<int>(by_vcpu.size()), smp);
  for (auto& [vcpu, evs] : by_vcpu) {
    // The first is the boot-time CR3 load, from CR3 = 0 (reset state).
    ASSERT_FALSE(evs.empty());
    EXPECT_THAT(evs[0].line, HasSubstr("boot32_load_cr3"));
    EXPECT_THAT(evs[0].line, HasSubstr("cr3 0 -> "));
    uint64_t cr3 = 0;
    int invlpgs = 0;
    for (size_t i = 0; i < evs.size(); ++i) {
      if (i > 0) EXPECT_GT(evs[i].seq, evs[i - 1].seq) << "per-vCPU sequence";
      if (evs[i].kind == "mov-cr3") {
        // Each write starts from what the previous one loaded.
        EXPECT_EQ(Hex(evs[i].line, "] cr3 "), cr3) << evs[i].line;
        cr3 = Hex(evs[i].line, " -> ");
        EXPECT_EQ(Hex(evs[i].line, "(root "), cr3 & 0x000ffffffffff000ull);
      } else if (evs[i].kind == "invlpg") {
        ++invlpgs;
        // INVLPG really executes: stepped, never emulated.
        EXPECT_THAT(evs[i].line,
                    HasSubstr(breakpoints == "sw" ? "[sw-breakpoint]" : "[hw-breakpoint+step]"));
        EXPECT_THAT(evs[i].line, HasSubstr("tlb_invlpg+0"));
        EXPECT_NE(Hex(evs[i].line, "addr "), 0u);
      }
    }
    EXPECT_GE(invlpgs, 1) << "selftest's invlpg check runs on every CPU";
  }
  ::unlink(log.c_str());
}

INSTANTIATE_TEST_SUITE_P(Smp, TrapSmpTest,
                         ::testing::Combine(::testing::Values(1, 2, 4),
                                            ::testing::Values("auto", "sw")),
                         [](const auto& info) {
                           return "smp" + std::to_string(std::get<0>(info.param)) + "_" +
                                  std::get<1>(info.param);
                         });

TEST(TrapTest, InvpcidAllFourTypesOnEveryVcpu) {
  REQUIRE_KVM();
  std::string log = ::testing::TempDir() + "/trap_invpcid.log";
  ProcResult r =
      RunTlbscope({"run", "--smp", "2", "--cmdline", "scenario=invpcid", "--trap-log", log});
  if (HostProbe("invpcid at CPL0") == "faults in the guest") {
    // A CPU without INVPCID (SVM/VMX hosts that lack it): the breakpoint's
    // step runs the instruction, which raises #UD, and nothing executed.
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("guest exception #UD (vector 6)"));
    EXPECT_THAT(r.err, HasSubstr("0 invlpg, 0 invpcid"));
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int t = 0; t < 4; ++t)
    EXPECT_THAT(r.out, HasSubstr("PASS invpcid_type" + std::to_string(t)));
  std::map<int, std::vector<int>> types;
  for (const LoggedEvent& e : ParseTrapLog(ReadFile(log))) {
    if (e.kind != "invpcid") continue;
    EXPECT_THAT(e.line, HasSubstr("tlb_invpcid+0"));
    types[e.vcpu].push_back(static_cast<int>(Hex(e.line, "type ")));
    EXPECT_NE(Hex(e.line, "descriptor@"), 0u);
  }
  ASSERT_EQ(types.size(), 2u);
  for (auto& [vcpu, t] : types) EXPECT_EQ(t, (std::vector<int>{0, 1, 2, 3})) << "vcpu " << vcpu;
  ::unlink(log.c_str());
}

// Five CR3 sites, four debug registers: what each policy covers, and the
// single-step window as the independent check of it.
TEST(StepWindowTest, CatchesTheSiteTheBreakpointsMissed) {
  REQUIRE_KVM();
  std::string k = TestKernel("pvh_cr3x5.elf");
  ProcResult hw =
      RunTlbscope({"run", "--kernel", k, "--breakpoints", "hw", "--step-window", "1000"});
  EXPECT_EQ(hw.exit_code, 6) << hw.err;  // the guest exited 0; tlbscope missed one
  EXPECT_THAT(hw.err, HasSubstr("uncovered: _start+0x25"));
  EXPECT_THAT(hw.err, HasSubstr("saw 5/0/0 mov-cr3/invlpg/invpcid, trapped 4/0/0: MISMATCH"));
  // The trace's end record says 6 too, not the guest's 0.
  std::string trace = ::testing::TempDir() + "/window_mismatch.trace";
  ProcResult rec = RunTlbscope({"run", "--kernel", k, "--breakpoints", "hw", "--step-window",
                                "1000", "--record", trace, "--quiet"});
  EXPECT_EQ(rec.exit_code, 6);
  ProcResult info = RunTlbscope({"trace-info", trace});
  EXPECT_THAT(info.out, HasSubstr("end:        guest-exit, exit code 6"));
  ::unlink(trace.c_str());
  for (const char* policy : {"auto", "sw"}) {
    ProcResult r =
        RunTlbscope({"run", "--kernel", k, "--breakpoints", policy, "--step-window", "1000"});
    if (r.err.find("uncovered: none") == std::string::npos) {
      GTEST_SKIP() << "no software breakpoints on this host:\n" << r.err;
    }
    EXPECT_EQ(r.exit_code, 0) << policy << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("saw 5/0/0 mov-cr3/invlpg/invpcid, trapped 5/0/0: agree"));
  }
}

TEST(StepWindowTest, GuestProbeBootPathsAgreeOnEveryVcpu) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--step-window", "100000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("guest checks: 5 passed, 0 failed"));
  for (int v = 0; v < 2; ++v) {
    // Each vCPU's boot CR3 load runs with interrupts off, inside the window.
    std::smatch m;
    std::regex re("step window on vcpu " + std::to_string(v) +
                  R"(: [0-9]+ instructions stepped \([^)]*\); saw ([0-9]+)/0/0 )"
                  R"(mov-cr3/invlpg/invpcid, trapped ([0-9]+)/0/0: agree)");
    ASSERT_TRUE(std::regex_search(r.err, m, re)) << r.err;
    EXPECT_GE(std::stoi(m[1]), 1);
    EXPECT_EQ(m[1], m[2]);
  }
}

TEST(TrapTest, BadBreakpointPolicy) {
  ProcResult r = RunTlbscope({"run", "--breakpoints", "magic"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--breakpoints must be auto, hw or sw (got 'magic')"));
}

TEST(TrapTest, NoTrapRunsUntraced) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--no-trap"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("TLB instructions not trapped (--no-trap)"));
  EXPECT_THAT(r.err, HasSubstr("guest checks: 5 passed, 0 failed"));
}

TEST(TrapTest, UntracedInvpcidIsACleanEmulationFailure) {
  REQUIRE_KVM();
  if (HostProbe("invpcid at CPL0") != "emulation-failure exit") {
    GTEST_SKIP() << "this host's CPU runs INVPCID: no emulation failure to see";
  }
  ProcResult r = RunTlbscope({"run", "--no-trap", "--cmdline", "scenario=invpcid"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err,
              ContainsRegex("vcpu 0: KVM internal error \\(emulation failure, suberror 1\\), "
                            "instruction bytes 66 0f 38 82 .* at rip 0x"));
}

TEST(ProbeHostTest, StrategiesFollowFromWhatWasProbed) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"probe-host"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto field = [&](const std::string& name) {
    std::smatch m;
    std::regex re(name + R"(:\s+(.*))");
    EXPECT_TRUE(std::regex_search(r.out, m, re)) << name << "\n" << r.out;
    return m.empty() ? std::string() : std::string(m[1]);
  };
  std::string fires = field("hardware breakpoints");
  std::string step = field("single-step at CPL0");
  std::string invpcid = field("invpcid at CPL0");
  std::string cpuid = field("guest CPUID");
  bool hw = fires.find("fire at CPL0: yes") != std::string::npos;
  EXPECT_EQ(field("strategy mov-cr3"), hw ? "hw-breakpoint+emulate" : "none");
  EXPECT_EQ(field("strategy invlpg"), hw && step == "yes" ? "hw-breakpoint+step" : "none");
  if (invpcid == "emulation-failure exit" && cpuid.find("invpcid no") != std::string::npos) {
    EXPECT_EQ(field("strategy invpcid"), "emulation-failure");
  }
}

TEST(SitesTest, GuestProbeKeepsItsTlbInstructionsInItsStubs) {
  // No KVM needed: a static scan of the bundled kernel.
  absl::StatusOr<SiteScan> scan = ScanTlbSitesInFile(GuestProbe());
  ASSERT_TRUE(scan.ok()) << scan.status();
  std::map<std::string, std::string> found;
  for (const TlbSite& s : scan->sites) {
    EXPECT_EQ(s.symbol_offset, 0u) << s.symbol;
    found[s.symbol] = TlbInsnName(s.kind);
  }
  EXPECT_EQ(found, (std::map<std::string, std::string>{{"boot32_load_cr3", "mov-cr3"},
                                                       {"tlb_write_cr3", "mov-cr3"},
                                                       {"tlb_invlpg", "invlpg"},
                                                       {"tlb_invpcid", "invpcid"}}));
}

TEST(SitesTest, CommandPrintsEverySite) {
  ProcResult r = RunTlbscope({"sites", TestKernel("tlb_sites.elf")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              ContainsRegex("0x0000000000400003  mov-cr3  mov cr3, rbx +func_switch_mm\\+0x3 "
                            "+switch_mm"));
  EXPECT_THAT(r.out, ContainsRegex("entry_SYSCALL_64\\+0x1 +entry/PTI"));
  EXPECT_THAT(r.out, HasSubstr("30 sites: 17 mov-cr3, 10 invlpg, 3 invpcid"));
  ProcResult bad = RunTlbscope({"sites", "/nonexistent"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "tlbscope sites: error: kernel /nonexistent: No such file or directory\n");
}

}  // namespace
}  // namespace tlbscope::testing
