// The model against a Linux guest at each return to user mode
// (collectors/state_check.h) for an mm no event has told the gen of yet:
// Linux starts a new mm at gen 0 (init_new_context()), and a fork child
// can return to user mode before any flush of its mm (Debian's 6.1 under
// tlbwork: 13 false "mm gen 1 is ahead of the guest's 0" at smp 2).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/tlbcollect_cli.h"
#include "tests/collect/synth.h"
#include "tests/collect/tlbcollect_run.h"

namespace tlbscope::collect::testing {
namespace {

constexpr uint64_t kParent = 2, kChild = 3;

Collector Linux() {
  Collector c;
  c.SetEventSource("linux");
  return c;
}

TEST(StateGenTest, AChildsFirstReturnBeforeAnyFlushTellsItsGens) {
  Synth s = BootedInto(1, kParent);
  s.SwitchTo(0, kParent, kChild);
  s.UserEnter(0, kChild, 0, 0);  // gen 0: nothing flushed its mm yet
  s.UserEnter(0, kChild, 0, 0);
  s.Shootdown(0, kChild, 0x400000, 0x401000, 1, 0b1);
  s.UserEnter(0, kChild, 1, 1);
  Collector c = Linux();
  EXPECT_THAT(s.Check(&c), ::testing::IsEmpty());
  EXPECT_EQ(c.state_check().checks, 3u);
  EXPECT_EQ(c.state_check().mismatches, 0u) << c.state_check().first_mismatch;
}

TEST(StateGenTest, OnceTheGenIsKnownAGuestBehindIsStillAMismatch) {
  Synth s = BootedInto(1, kParent);
  s.SwitchTo(0, kParent, kChild);
  s.UserEnter(0, kChild, 0, 0);
  s.Shootdown(0, kChild, 0x400000, 0x401000, 1, 0b1);
  s.UserEnter(0, kChild, 1, 0);  // the kernel's mm gen went back: a missed event
  Collector c = Linux();
  s.Check(&c);
  EXPECT_EQ(c.state_check().mismatches, 1u);
  EXPECT_THAT(c.state_check().first_mismatch,
              ::testing::HasSubstr("the model's mm gen 1 is ahead of the guest's 0"));
}

// A replay of such a trace says so and fails with its own status (no
// invariant broke: 4, not 1); the same events with the guest's gen right
// are clean, 0.
TEST(StateGenTest, AReplayWithAStateMismatchExitsFour) {
  Synth bad = BootedInto(1, kParent);
  bad.SwitchTo(0, kParent, kChild);
  bad.Shootdown(0, kChild, 0x400000, 0x401000, 1, 0b1);
  Synth good = bad;
  bad.UserEnter(0, kChild, 1, 0);
  good.UserEnter(0, kChild, 1, 1);
  std::string trace = ::testing::TempDir() + "/state_gen.trace";
  bad.WriteTrace(trace, 1, true, "linux");
  CliRun r = Tlbcollect({"replay", trace});
  EXPECT_EQ(r.status, kExitStateMismatch) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("state vs guest: 1 returns to user mode checked, 1 "
                                          "mismatches"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("verdict: clean"));
  good.WriteTrace(trace, 1, true, "linux");
  r = Tlbcollect({"replay", trace});
  EXPECT_EQ(r.status, kExitClean) << r.out << r.err;
  std::remove(trace.c_str());
}

}  // namespace
}  // namespace tlbscope::collect::testing
