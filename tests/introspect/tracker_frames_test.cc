// LinuxTracker's frames and the kernel's own answers: should_flush_tlb()
// deciding the targets, a tail call's one return ending two probed calls,
// a task that returns on another CPU than it entered on, and the bound on
// frames left behind (tracker_fixture.h's fake guest).
#include "tests/introspect/tracker_fixture.h"

namespace tlbscope::introspect::testing {
namespace {

// CPU 1 goes lazy after CPU 0 read the targets at native_flush_tlb_multi's
// entry: the kernel's should_flush_tlb() says no to it, and Linux runs
// flush_tlb_func on CPU 0 only and waits for that one. The flush_request
// waits for the kernel's answers: clean (the targets read at the entry
// made this a flush-done-before-acks).
TEST_F(TrackerTest, TheTargetsAreTheCpusShouldFlushTlbSaidYesTo) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  ShootdownWith(2, 0x400000, 0x401000, false, [&] {
    Lazy(1, true);             // CPU 1 goes idle now
    ShouldFlush(0, 1, false);  // the remote CPUs first
    ShouldFlush(0, 0, true);   // then this one
    FlushFunc(0, 2, 0x400000, 0x401000);
  });
  collect::Collector c;
  EXPECT_THAT(synth_.Check(&c), ::testing::IsEmpty());
  const collect::MmModel* mm = c.state().mm(5);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->completed_gen, 2u);
  EXPECT_EQ(c.state().vcpu(0)->ipis_sent, 0u);  // nobody was asked
}

// CPU 1 was asked, then went lazy before the IPI came: its flush_tlb_func
// ends in `jmp switch_mm_irqs_off` (a tail call to init_mm), so
// switch_mm_irqs_off's entry finds flush_tlb_func's return address in the
// same stack slot and one return ends both. CPU 1's ack must not be lost
// (it was: a flush-done-before-acks on every such run under KVM).
TEST_F(TrackerTest, ATailCallReturnEndsTheCallerToo) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  ShootdownWith(2, 0x400000, 0x401000, false, [&] {
    ShouldFlush(0, 1, true);
    ShouldFlush(0, 0, true);
    FlushFunc(0, 2, 0x400000, 0x401000);
    Call(1, 1, {kMmA, 0}, [] {});  // enter_lazy_tlb on CPU 1
    Lazy(1, true);
    ProbeRegs func;
    func.rip = kFn + 0x4000;  // flush_tlb_func(info)
    func.rsp = Stack(1) - 0x800;
    func.arg[0] = kInfo;
    g_.Put(func.rsp, kRet + 0x40);
    ASSERT_TRUE(tracker_->OnBreakpoint(1, func, g_));
    ProbeRegs sw = func;  // jmp switch_mm_irqs_off(NULL, &init_mm, NULL)
    sw.rip = kFn;
    sw.arg[0] = 0;
    sw.arg[1] = kInitMm;
    ASSERT_TRUE(tracker_->OnBreakpoint(1, sw, g_));
    Cr3(1, kInitMm + 0x100000 - kDirectMap);
    Load(1, kInitMm, 0, 1, 1, false);
    ProbeRegs back;
    back.rip = kRet + 0x40;
    back.rsp = func.rsp + 8;
    ASSERT_TRUE(tracker_->OnBreakpoint(1, back, g_));
    EXPECT_THAT(tracker_->ReturnAddresses(), ::testing::Not(::testing::Contains(kRet + 0x40)));
  });
  collect::Collector c;
  EXPECT_THAT(synth_.Check(&c), ::testing::IsEmpty());
  const collect::MmModel* mm = c.state().mm(5);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->completed_gen, 2u);
  EXPECT_EQ(c.state().vcpu(1)->flush_funcs, 1u);
  EXPECT_EQ(c.state().vcpu(1)->loaded_mm, 1u);
}

// A task sleeps in tlb_finish_mmu while it frees the pages and returns on
// another CPU: the gather it started and flushed on CPU 0 ends on CPU 1,
// with what it flushed. A hit of another task on CPU 0, on a stack 20 KiB
// above it, does not drop its frame.
TEST_F(TrackerTest, AGatherEndedOnAnotherCpuKeepsWhatItFlushed) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  const uint64_t tlb = kDirectMap + 0x50000000;
  Call(0, 5, {tlb, kMmA}, [&] {  // tlb_gather_mmu
    g_.Put(tlb + l_->mg_mm.offset, kMmA);
    g_.Put(tlb + l_->mg_start.offset, 0x400000);
    g_.Put(tlb + l_->mg_end.offset, 0x402000);
    g_.Put(tlb + l_->mg_freed_tables.offset, 0, 1);
    g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, 1, 4);
  });
  ProbeRegs finish;
  finish.rip = kFn + 0x6000;  // tlb_finish_mmu(tlb) on CPU 0
  finish.rsp = Stack(0);
  finish.arg[0] = tlb;
  g_.Put(finish.rsp, kRet + 0x60);
  ASSERT_TRUE(tracker_->OnBreakpoint(0, finish, g_));
  ++depth_[0];
  Shootdown(2, 0x400000, 0x402000);
  --depth_[0];
  ProbeRegs other;  // enter_lazy_tlb on CPU 0, another task's stack
  other.rip = kFn + 0x1000;
  other.rsp = Stack(0) + 0x5000;
  other.arg[0] = kMmA;
  g_.Put(other.rsp, kRet + 0x10);
  ASSERT_TRUE(tracker_->OnBreakpoint(0, other, g_));
  g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, 0, 4);
  ProbeRegs back;  // the return, on CPU 1
  back.rip = kRet + 0x60;
  back.rsp = finish.rsp + 8;
  ASSERT_TRUE(tracker_->OnBreakpoint(1, back, g_));
  EXPECT_THAT(tracker_->ReturnAddresses(), ::testing::IsEmpty());
  collect::Collector c;
  EXPECT_THAT(synth_.Check(&c), ::testing::IsEmpty());
  const v1::Event* end = nullptr;
  for (const v1::Event& e : synth_.events()) {
    if (e.has_gather_end()) end = &e;
  }
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->vcpu(), 1u);
  EXPECT_EQ(end->gather_end().flush_tlb_gen(), 2u);
  EXPECT_EQ(end->gather_end().flushed_start(), 0x400000u);
  EXPECT_EQ(end->gather_end().flushed_end(), 0x402000u);
  EXPECT_EQ(end->gather_end().gather(), tlb);
  EXPECT_THAT(c.state().mm(5)->gathers, ::testing::IsEmpty());
}

// tlb_finish_mmu's entry sees tlb_flush_pending 2, but the other gather
// ends before the kernel's own read a few instructions later (1): Linux
// rightly flushes its own range only. The load the VMM performed for the
// kernel (Probe::load_disp) is what the gather_end reports: clean. With
// the entry's value alone this was a false nested-gather-underflush.
TEST_F(TrackerTest, TheNestedCheckIsTheValueTheKernelLoaded) {
  ASSERT_EQ(tracker_->load_wants().size(), 1u);
  EXPECT_EQ(tracker_->load_wants()[0].disp, l_->mm_tlb_flush_pending.offset);
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  Gather(
      0, 0x400000, 0x402000, 2, [] {},
      [&] {
        g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, 1, 4);  // the other gather ended
        ASSERT_TRUE(tracker_->OnLoad(0, tracker_->load_wants()[0].function,
                                     Stack(0) - 0x100 * depth_[0], 1));
        Shootdown(2, 0x400000, 0x402000);
      });
  EXPECT_THAT(synth_.Check(), ::testing::IsEmpty());
  EXPECT_FALSE(tracker_->OnLoad(0, tracker_->load_wants()[0].function, Stack(0), 1))
      << "no tlb_finish_mmu in flight";
}

// Frames left behind (a task that never returned from a probed call) are
// bounded, 16 per CPU: the oldest go first.
TEST_F(TrackerTest, ReturnsWaitedForAreBounded) {
  for (int i = 0; i < 40; ++i) {
    ProbeRegs r;
    r.rip = kFn + 0x1000 * 6;  // tlb_finish_mmu, which waits for its return
    r.rsp = kDirectMap + 0x40000000 - 0x100 * i;
    g_.Put(r.rsp, kRet + i);
    ASSERT_TRUE(tracker_->OnBreakpoint(0, r, g_));
  }
  std::vector<uint64_t> rets = tracker_->ReturnAddresses();
  ASSERT_EQ(rets.size(), 32u);  // 16 per CPU
  EXPECT_EQ(rets.front(), kRet + 8);
  EXPECT_EQ(rets.back(), kRet + 39);
}

}  // namespace
}  // namespace tlbscope::introspect::testing
