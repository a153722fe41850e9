// --hold: the syntax and the coordinator (vmm/hold), with threads standing
// in for vCPUs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "vmm/hold/coordinator.h"
#include "vmm/hold/hold_spec.h"

namespace tlbscope::hold {
namespace {

using ::testing::HasSubstr;

TEST(HoldSpecTest, ParsesSitesOptionsAndDefaults) {
  absl::StatusOr<Spec> s =
      ParseSpec("1:flush_tlb_func,release=0:tlb_finish_mmu%return,timeout=250ms,count=3", 2);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->hold.vcpu, 1u);
  EXPECT_EQ(s->hold.symbol, "flush_tlb_func");
  EXPECT_FALSE(s->hold.at_return);
  EXPECT_EQ(s->release.vcpu, 0u);
  EXPECT_EQ(s->release.symbol, "tlb_finish_mmu");
  EXPECT_TRUE(s->release.at_return);
  EXPECT_EQ(s->timeout, absl::Milliseconds(250));
  EXPECT_EQ(s->count, 3u);

  s = ParseSpec("0:seed_flush+0x1c,release=1:0xffffffff81001000");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->hold.offset, 0x1cu);
  EXPECT_TRUE(s->release.symbol.empty());
  EXPECT_EQ(s->release.address, 0xffffffff81001000u);
  EXPECT_EQ(s->timeout, absl::Seconds(5));
  EXPECT_EQ(s->count, 1u);
}

TEST(HoldSpecTest, BadSpecsNameWhatIsWrong) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"flush_tlb_func,release=0:x", "'flush_tlb_func' is not VCPU:SITE"},
      {"1:f", "release=VCPU:SITE is missing"},
      {"1:f,release=1:g", "vCPU 1 cannot release itself"},
      {"4:f,release=0:g", "vCPU 4 does not exist (the guest has 2)"},
      {"x:f,release=0:g", "vCPU 'x' is not 0 to 63"},
      {"1:f,release=0:g,timeout=0s", "timeout=0s: expected a duration above 0"},
      {"1:f,release=0:g,timeout=inf", "timeout=inf"},
      {"1:f,release=0:g,timeout=601s", "up to 600s"},
      {"1:f,release=0:g,count=0", "count=0: expected 1 to"},
      {"1:f,release=0:g,color=red", "unknown key 'color'"},
      {"1:f,release=0:g,timeout", "'timeout' is not KEY=VALUE"},
      {"1:f g,release=0:g", "only printable characters without spaces"},
      {"1:f;rm,release=0:g", "'f;rm' is not a symbol"},
      {"1:9f,release=0:g", "'9f' is not a symbol"},
      {"1:f+0x10000,release=0:g", "offset '0x10000' is not a number up to 0xffff"},
      {"1:0xzz,release=0:g", "'0xzz' is not a hex address"},
      {"1:f,release=0:", "'' is not a symbol"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Spec> s = ParseSpec(c.text, 2);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("--hold ")) << c.text;
  }
  EXPECT_FALSE(ParseSpec(std::string(2000, 'a'), 2).ok());
}

Spec Parse(const std::string& text) {
  absl::StatusOr<Spec> s = ParseSpec(text, 2);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(HoldCoordinatorTest, TheOtherVcpuReleasesTheHeldOne) {
  Coordinator c({Parse("1:f,release=0:g,timeout=60s")}, nullptr);
  std::atomic<bool> held_returned{false};
  HoldResult r;
  std::thread held([&] {
    r = c.AtHoldSite(0, 0x1000);
    held_returned = true;
  });
  // vCPU 0 goes by only once vCPU 1 is held.
  while (c.stats(0).held == 0) std::this_thread::yield();
  EXPECT_FALSE(held_returned);
  c.AtReleaseSite(0);
  held.join();
  EXPECT_EQ(r.outcome, Outcome::kReleased);
  EXPECT_LT(r.waited, absl::Seconds(60));
  EXPECT_EQ(c.stats(0).released, 1u);
  // count=1: the next hit is not held.
  EXPECT_EQ(c.AtHoldSite(0, 0x1000).outcome, Outcome::kNotHeld);
  EXPECT_THAT(c.Summary(0), HasSubstr("held 1, released 1, timed out 0"));
}

TEST(HoldCoordinatorTest, AReleaseBeforeTheHoldDoesNotCount) {
  Coordinator c({Parse("1:f,release=0:tlb_finish_mmu%return,timeout=50ms")}, [](uint32_t vcpu) {
    return "native_safe_halt+0x4 (vCPU " + std::to_string(vcpu) + ")";
  });
  c.AtReleaseSite(0);  // vCPU 0 went by first: the order wanted did not happen
  HoldResult r = c.AtHoldSite(0, 0xffffffff81002000);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_GE(r.waited, absl::Milliseconds(50));
  EXPECT_EQ(r.message,
            "--hold 1:f,release=0:tlb_finish_mmu%return,timeout=50ms: timed out after 50ms: "
            "vCPU 1 held at 1:f (rip 0xffffffff81002000); vCPU 0 never reached "
            "0:tlb_finish_mmu%return (it is at native_safe_halt+0x4 (vCPU 0)); vCPU 1 released");
  EXPECT_EQ(c.stats(0).timed_out, 1u);
}

TEST(HoldCoordinatorTest, StoppingTheVmEndsEveryHold) {
  Coordinator c({Parse("1:f,release=0:g,timeout=600s,count=5")}, nullptr);
  HoldResult r;
  std::thread held([&] { r = c.AtHoldSite(0, 0x1000); });
  while (c.stats(0).held == 0) std::this_thread::yield();
  c.Stop("--timeout expired");
  held.join();
  EXPECT_EQ(r.outcome, Outcome::kStopped);
  EXPECT_THAT(r.message, HasSubstr("vCPU 1 released because the VM stopped (--timeout expired)"));
  // And none starts after.
  EXPECT_EQ(c.AtHoldSite(0, 0x1000).outcome, Outcome::kNotHeld);
}

TEST(HoldCoordinatorTest, CountHoldsThatManyTimesThenLetsGo) {
  Coordinator c({Parse("1:f,release=0:g,timeout=10ms,count=2")}, nullptr);
  EXPECT_EQ(c.AtHoldSite(0, 1).outcome, Outcome::kTimedOut);
  EXPECT_EQ(c.AtHoldSite(0, 1).outcome, Outcome::kTimedOut);
  EXPECT_EQ(c.AtHoldSite(0, 1).outcome, Outcome::kNotHeld);
  EXPECT_EQ(c.stats(0).held, 2u);
  Coordinator never({Parse("1:f,release=0:g")}, nullptr);
  EXPECT_THAT(never.Summary(0), HasSubstr("never held (vCPU 1 did not reach 1:f)"));
}

}  // namespace
}  // namespace tlbscope::hold
