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

// What Linux counts outside flush_tlb_func (kernel_flush_probe.cc): a
// kernel page flush, flush_tlb_all() and do_flush_tlb_all() on both CPUs
// reach the collector's tally of the kernel's counters, and change no mm.
TEST_F(TrackerTest, KernelFlushesAreCountedAsLinuxCountsThem) {
  SwitchToA(0, 1, 0x1);
  Call(0, 8, {0xffffffffff5fc000}, [] {});  // flush_tlb_one_kernel(a fixmap page)
  Call(0, 9, {}, [&] {                      // flush_tlb_all()
    Call(0, 10, {}, [] {});                 // do_flush_tlb_all(), here and on CPU 1
    Call(1, 10, {}, [] {});
  });
  collect::Collector c;
  EXPECT_THAT(synth_.Check(&c), ::testing::IsEmpty());
  const collect::KernelTally& t = c.kernel_tally();
  EXPECT_EQ(t.local_one_pages, 1u);
  EXPECT_EQ(t.remote_sent, 1u);
  EXPECT_EQ(t.remote_received, 2u);
  EXPECT_EQ(t.local_full, 0u);
  EXPECT_EQ(c.state().mm(5)->tlb_gen, 1u);
  int seen = 0;
  for (const v1::Event& e : synth_.events()) {
    if (!e.has_kernel_flush()) continue;
    ++seen;
    if (e.kernel_flush().what() == v1::KernelFlush::ONE_KERNEL_PAGE) {
      EXPECT_EQ(e.kernel_flush().address(), 0xffffffffff5fc000u);
    }
  }
  EXPECT_EQ(seen, 4);
}

// A kernel page flush made while the CPU's GS base is still the boot
// per-CPU area (__per_cpu_load) says so; one made after does not.
TEST_F(TrackerTest, AKernelFlushOnTheBootPerCpuAreaSaysSo) {
  ProbeRegs r;
  r.rip = kFn + 0x8000;  // flush_tlb_one_kernel
  r.rsp = Stack(0);
  r.gs_base = kBootPercpu;
  ASSERT_TRUE(tracker_->OnBreakpoint(0, r, g_));
  r.gs_base = Base(0);
  ASSERT_TRUE(tracker_->OnBreakpoint(0, r, g_));
  std::vector<bool> boot;
  for (const v1::Event& e : synth_.events()) {
    if (e.has_kernel_flush()) boot.push_back(e.kernel_flush().boot_percpu());
  }
  EXPECT_THAT(boot, ::testing::ElementsAre(true, false));
  collect::Collector c;
  synth_.Check(&c);
  EXPECT_EQ(c.kernel_tally().boot_percpu_one_pages, 1u);
  EXPECT_EQ(c.kernel_tally().local_one_pages, 2u);
}

}  // namespace
}  // namespace tlbscope::introspect::testing
