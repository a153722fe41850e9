// LinuxTracker on a fake Linux guest (tracker_fixture.h): the events go,
// with the trapped CR3 writes and INVLPGs, through the real collector,
// which must rebuild the mm and every CPU's generation with no violation --
// and must flag the guest whose remote flush_tlb_func flushed nothing.
#include "tests/introspect/tracker_fixture.h"

namespace tlbscope::introspect::testing {
namespace {

TEST_F(TrackerTest, SwitchesAndShootdownsRebuildTheMmAndEveryCpu) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  Shootdown(2, 0x400000, 0x402000);
  Shootdown(3, 0x500000, 0x501000);
  Call(1, 1, {kMmA, 0}, [] {});  // enter_lazy_tlb on CPU 1
  collect::Collector c;
  std::vector<std::string> violations = synth_.Check(&c);
  EXPECT_THAT(violations, ::testing::IsEmpty());
  const collect::MmModel* mm = c.state().mm(5);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->tlb_gen, 3u);
  EXPECT_EQ(mm->flush_requests, 2u);
  for (uint32_t cpu = 0; cpu < 2; ++cpu) {
    const collect::VcpuModel* v = c.state().vcpu(cpu);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->loaded_mm, 5u);
    EXPECT_EQ(v->LocalGen(5), 3u) << "cpu " << cpu;
    EXPECT_EQ(v->flush_funcs, 2u);
  }
  EXPECT_TRUE(c.state().vcpu(1)->lazy);
  EXPECT_EQ(c.state().vcpu(0)->ipis_sent, 2u);
  EXPECT_EQ(c.state().vcpu(1)->ipis_received, 2u);
  EXPECT_EQ(c.state().vcpu(1)->ipis_unserved, 0u);
  EXPECT_EQ(mm->completed_gen, 3u);
  EXPECT_EQ(tracker_->read_failures(), 0u);
  // Entries and returns of: 2 switches, 2 x (range, multi, 2 funcs,
  // 2 should_flush_tlb), lazy.
  EXPECT_EQ(tracker_->hits(), 2u * 2 + 2 * (2 + 1 + 2 * 2 + 2 * 2) + 1);
}

// A kernel bug: CPU 1's flush_tlb_func advances its generation without
// flushing anything.
TEST_F(TrackerTest, ARemoteFlushWithoutInstructionIsAViolation) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  Shootdown(2, 0x400000, 0x402000, /*cpu1_invlpg=*/false);
  std::vector<std::string> violations = synth_.Check();
  EXPECT_THAT(violations, ::testing::ElementsAre("flush-without-instruction"));
}

// Two gathers of one mm at once (CPU 1's still open): Linux's
// tlb_finish_mmu must flush the whole mm with freed_tables. The events say
// what the kernel did; the collector judges.
TEST_F(TrackerTest, NestedGatherIsJudgedOnWhatTheKernelFlushed) {
  for (bool full : {true, false}) {
    SCOPED_TRACE(full ? "full flush" : "own range only (seed 003)");
    synth_ = Synth();
    SetUp();
    SwitchToA(0, 1, 0x1);
    SwitchToA(1, 1, 0x3);
    Gather(
        1, 0x600000, 0x601000, 1,
        [&] {
          Gather(
              0, 0x400000, 0x402000, 2, [] {},
              [&] {
                if (full) {
                  Shootdown(2, 0, ~0ull, true, /*freed=*/true);
                } else {
                  Shootdown(2, 0x400000, 0x402000);
                }
                g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, 1, 4);  // dec_tlb_flush_pending
              });
        },
        [&] { g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, 0, 4); });
    std::vector<std::string> v = synth_.Check();
    if (full) {
      EXPECT_THAT(v, ::testing::IsEmpty());
    } else {
      EXPECT_THAT(v, ::testing::ElementsAre("nested-gather-underflush"));
    }
  }
}

TEST_F(TrackerTest, UnreadableStateCountsAFailureAndEmitsNothing) {
  g_.Put(kPerCpuOffsets, 0xdead000000000000ull);  // CPU 0's per-CPU base: unmapped
  ProbeRegs r;
  r.rip = kFn;  // switch_mm_irqs_off
  r.rsp = kDirectMap + 0x40000000;
  g_.Put(r.rsp, kRet);
  r.arg[0] = kInitMm;
  r.arg[1] = kMmA;
  EXPECT_TRUE(tracker_->OnBreakpoint(0, r, g_));
  EXPECT_EQ(tracker_->read_failures(), 1u);
  EXPECT_TRUE(synth_.events().empty());
  r.rip = 0x1234;  // not a probe
  EXPECT_FALSE(tracker_->OnBreakpoint(0, r, g_));
  EXPECT_FALSE(tracker_->OnBreakpoint(7, r, g_));  // no such CPU
}

}  // namespace
}  // namespace tlbscope::introspect::testing
