// The status line (drawn in place, lines printed above it, off when not a
// terminal), run's status text and milestones, regress's done/running/left.
#include "regress/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/status_line.h"
#include "regress/runner.h"
#include "tests/eco/process.h"
#include "vmm/progress/run_progress.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusLineTest, DrawsInPlaceAndPrintsAboveIt) {
  FILE* f = std::tmpfile();
  {
    StatusLine s(f, true);
    s.Draw("one");
    s.Draw("two");
    s.Above(f, "a line\n");
    s.Clear();
  }
  EXPECT_EQ(eco::ReadAll(f), "\r\033[Kone\r\r\033[Ktwo\r\r\033[Ka line\n\r\033[Ktwo\r\r\033[K");
}

TEST(StatusLineTest, OffItOnlyPrintsTheLines) {
  FILE* f = std::tmpfile();
  {
    StatusLine s(f, false);
    s.Draw("one");
    s.Above(f, "a line\n");
    s.Clear();
  }
  EXPECT_EQ(eco::ReadAll(f), "a line\n");
  FILE* file = std::tmpfile();
  EXPECT_FALSE(StatusLine::IsTerminal(file)) << "a file is not a terminal";
  EXPECT_EQ(StatusLine::Width(file), 80);
  std::fclose(file);
}

TEST(RunProgressTest, MilestonesFromLinuxAndGuestProbe) {
  EXPECT_EQ(MilestoneOf("[    0.000000] Linux version 6.1.0-18-cloud-amd64 (gcc) #1\n"),
            "Linux version 6.1.0-18-cloud-amd64 (gcc) #1");
  EXPECT_EQ(MilestoneOf("[    0.412345] smp: Brought up 1 node, 2 CPUs\r\n"),
            "smp: Brought up 1 node, 2 CPUs");
  EXPECT_EQ(MilestoneOf("[    2.1] Run /init as init process\n"), "Run /init as init process");
  EXPECT_EQ(MilestoneOf("guest-probe: 2 CPU(s) in the MP table, scenario lazy-free\n"),
            "guest-probe: 2 CPU(s) in the MP table, scenario lazy-free");
  EXPECT_EQ(MilestoneOf("FAIL lam_lazy_switch\x1b[31m\n"), "FAIL lam_lazy_switch[31m");
  EXPECT_EQ(MilestoneOf("[    0.1] ACPI: RSDP 0x00000000000F0000\n"), "");
  EXPECT_EQ(MilestoneOf(""), "");
}

TEST(RunProgressTest, StatusHasCountsViolationsAndTheLastMilestone) {
  StatusLine off(stderr, false);
  RunProgress p(&off, 2);
  std::vector<v1::Event> events(3);
  events[0].set_vcpu(0);
  events[1].set_vcpu(1);
  events[2].set_vcpu(0);
  p.OnEvents(events);
  p.ConsoleLine("[    0.0] Linux version 6.1\n");
  p.ConsoleLine("[    0.1] not a milestone\n");
  p.Violation("tlbscope: VIOLATION x\n");
  std::string s = p.Format(12.34, 25000);
  EXPECT_EQ(s, "tlbscope: 12.3s, 3 events (25k/s); v0 2 v1 1; 1 violations; Linux version 6.1");
}

TEST(RegressProgressTest, DoneRunningLeftWithVerdicts) {
  FILE* f = std::tmpfile();
  StatusLine line(f, true);
  RegressProgress p(&line, 4);
  p.Started("a");
  p.Started("b");
  EXPECT_EQ(p.Format(),
            "tlbscope regress: 0/4 done (0 pass, 0 FAIL, 0 ERROR), 2 running: a b; 2 left");
  p.Finished("a", RegressProgress::kPass, "");
  p.Started("c");
  p.Finished("b", RegressProgress::kError, "");
  EXPECT_EQ(p.Format(),
            "tlbscope regress: 2/4 done (1 pass, 0 FAIL, 1 ERROR), 1 running: c; 1 left");
  p.Done();
  std::string out = eco::ReadAll(f);
  EXPECT_THAT(out, HasSubstr("\r\033[Ktlbscope regress: 1/4 done (1 pass, 0 FAIL, 0 ERROR)"));
  EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K") << "cleared at the end";
}

TEST(RegressProgressTest, TheRunnerDrawsIt) {
  absl::StatusOr<regress::Suite> s = regress::ParseSuite(
      "[[run]]\nname = \"a\"\nexpect = \"clean\"\n[[run]]\nname = \"b\"\nexpect = \"clean\"\n",
      "s.toml");
  ASSERT_TRUE(s.ok());
  std::string dir = ::testing::TempDir() + "/eco_prog_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string fake = dir + "/fake.sh";
  std::ofstream(fake) << "#!/bin/sh\nexit 5\n";
  ::chmod(fake.c_str(), 0755);
  FILE* f = std::tmpfile();
  StatusLine line(f, true);
  regress::RunnerOptions o;
  o.tlbscope = fake;
  o.out_dir = dir + "/out";
  o.jobs = 1;
  o.status = &line;
  std::vector<regress::RunVerdict> v = regress::RunSuite(*s, o);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].error);
  std::string out = eco::ReadAll(f);
  EXPECT_THAT(out, HasSubstr("0/2 done (0 pass, 0 FAIL, 0 ERROR), 1 running: a; 1 left"));
  EXPECT_THAT(out, HasSubstr("1/2 done (0 pass, 0 FAIL, 1 ERROR), 1 running: b; 0 left"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tlbscope
