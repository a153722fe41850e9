// Which CPUs of an mm's cpumask native_flush_tlb_multi asks, by the rule
// of the kernel at hand (arch/x86/mm/tlb.c): tlb_is_not_lazy() before
// flush_tlb_info had trim_cpumask, should_flush_tlb() since.
#include <gtest/gtest.h>

#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {
namespace {

constexpr uint64_t kMm = 0xffff888000100000, kOtherMm = 0xffff888000200000;

FlushInfo Info(bool has_trim, bool trim = false, bool freed = false, uint64_t mm = kMm) {
  FlushInfo f;
  f.mm = mm;
  f.has_trim_cpumask = has_trim;
  f.trim_cpumask = trim;
  f.freed_tables = freed;
  return f;
}

CpuTlbState Cpu(uint64_t loaded, bool lazy) {
  CpuTlbState c;
  c.loaded_mm = loaded;
  c.is_lazy = lazy;
  return c;
}

TEST(FlushTargetsTest, FreedTablesAsksEveryCpuOfTheMaskLazyOrNot) {
  EXPECT_TRUE(FlushTargetWanted(Info(true, false, true), Cpu(kOtherMm, true)));
  EXPECT_TRUE(FlushTargetWanted(Info(false, false, true), Cpu(kMm, true)));
}

TEST(FlushTargetsTest, ALazyCpuIsNeverAskedOtherwise) {
  EXPECT_FALSE(FlushTargetWanted(Info(false), Cpu(kMm, true)));
  EXPECT_FALSE(FlushTargetWanted(Info(true, true), Cpu(kMm, true)));
}

TEST(FlushTargetsTest, WithoutTrimCpumaskEveryNonLazyCpuIsAsked) {
  EXPECT_TRUE(FlushTargetWanted(Info(false), Cpu(kOtherMm, false)));
}

TEST(FlushTargetsTest, ShouldFlushTlbSkipsACpuRunningAnotherMm) {
  EXPECT_TRUE(FlushTargetWanted(Info(true), Cpu(kMm, false)));
  EXPECT_FALSE(FlushTargetWanted(Info(true), Cpu(kOtherMm, false)));
  // ...unless the cpumask is being trimmed, the CPU is mid-switch
  // (LOADED_MM_SWITCHING), or the flush is of kernel memory (no mm).
  EXPECT_TRUE(FlushTargetWanted(Info(true, true), Cpu(kOtherMm, false)));
  EXPECT_TRUE(FlushTargetWanted(Info(true), Cpu(1, false)));
  EXPECT_TRUE(FlushTargetWanted(Info(true, false, false, 0), Cpu(kOtherMm, false)));
}

}  // namespace
}  // namespace tlbscope::introspect
