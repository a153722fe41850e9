// Where a probe's breakpoint goes and how its instruction is skipped.
#include "introspect/probes/entry_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace tlbscope::introspect {
namespace {

constexpr uint64_t kFn = 0xffffffff81001000ull;
constexpr uint64_t kFentry = 0xffffffff81e00000ull;

std::vector<uint8_t> Code(std::vector<uint8_t> head) {
  head.resize(16, 0xcc);
  return head;
}
std::vector<uint8_t> CallFentry(uint64_t at) {
  int32_t rel = static_cast<int32_t>(kFentry - (at + 5));
  std::vector<uint8_t> c = {0xe8};
  for (int i = 0; i < 4; ++i) c.push_back((rel >> (8 * i)) & 0xff);
  return c;
}

TEST(EntryPlanTest, AfterFentryCallThenEmulatedPush) {
  std::vector<uint8_t> c = CallFentry(kFn);
  c.push_back(0x55);  // push rbp
  EntryPlan p = PlanEntry(kFn, Code(c), kFentry);
  EXPECT_EQ(p.address, kFn + 5);
  EXPECT_TRUE(p.after_ftrace);
  EXPECT_EQ(p.skip, EntryPlan::Skip::kEmulatePush);
  EXPECT_EQ(p.push_reg, 5);
  EXPECT_EQ(p.length, 1);
}

TEST(EntryPlanTest, EndbrThenFtraceNopThenPushR15) {
  EntryPlan p = PlanEntry(
      kFn, Code({0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x41, 0x57}), kFentry);
  EXPECT_EQ(p.address, kFn + 9);
  EXPECT_TRUE(p.after_ftrace);
  EXPECT_EQ(p.skip, EntryPlan::Skip::kEmulatePush);
  EXPECT_EQ(p.push_reg, 15);
  EXPECT_EQ(p.length, 2);
}

TEST(EntryPlanTest, EndbrWithoutFtraceIsAnEmulatedNop) {
  EntryPlan p = PlanEntry(kFn, Code({0xf3, 0x0f, 0x1e, 0xfa, 0x55}), std::nullopt);
  EXPECT_EQ(p.address, kFn);
  EXPECT_FALSE(p.after_ftrace);
  EXPECT_EQ(p.skip, EntryPlan::Skip::kEmulateNop);
  EXPECT_EQ(p.length, 4);
}

TEST(EntryPlanTest, ACallElsewhereIsNotFtraceAndIsStepped) {
  std::vector<uint8_t> c = CallFentry(kFn);
  c[1] ^= 0x10;  // a call to some other function
  EntryPlan p = PlanEntry(kFn, Code(c), kFentry);
  EXPECT_EQ(p.address, kFn);
  EXPECT_FALSE(p.after_ftrace);
  EXPECT_EQ(p.skip, EntryPlan::Skip::kStep);
}

TEST(EntryPlanTest, MovIsStepped) {
  EntryPlan p = PlanEntry(kFn, Code({0x48, 0x89, 0xe5}), kFentry);  // mov rbp, rsp
  EXPECT_EQ(p.skip, EntryPlan::Skip::kStep);
  EXPECT_EQ(p.address, kFn);
}

}  // namespace
}  // namespace tlbscope::introspect
