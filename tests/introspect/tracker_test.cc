// LinuxTracker on a fake Linux guest: kernel memory laid out by the layout
// introspect read from fake_kernel.elf's DWARF, breakpoint hits made by
// hand as the VMM would report them. The events go, with the trapped CR3
// writes and INVLPGs, through the real collector, which must rebuild the
// mm and every CPU's generation with no violation -- and must flag the
// guest whose remote flush_tlb_func flushed nothing.
#include "introspect/probes/tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/str_format.h"
#include "collectors/collector.h"
#include "introspect/knowledge.h"
#include "tests/collect/synth.h"

namespace tlbscope::introspect {
namespace {

using collect::testing::Synth;

constexpr uint64_t kDirectMap = 0xffff888000000000ull;
constexpr uint64_t kPerCpuOffsets = 0xffffffff82000000ull;
constexpr uint64_t kInitMm = 0xffffffff83000000ull;
constexpr uint64_t kMmA = kDirectMap + 0x20000000;
constexpr uint64_t kInfo = kDirectMap + 0x30000000;
constexpr uint64_t kFn = 0xffffffff81000000ull;  // functions at kFn + 0x1000 * i
constexpr uint64_t kRet = 0xffffffff81800000ull;

class FakeGuest : public GuestReader {
 public:
  absl::Status Read(uint64_t gva, std::span<uint8_t> out) override {
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = bytes_.find(gva + i);
      if (it == bytes_.end()) {
        return absl::NotFoundError(absl::StrFormat("unmapped %#x", gva + i));
      }
      out[i] = it->second;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> Translate(uint64_t gva) override { return gva - kDirectMap; }
  void Put(uint64_t gva, uint64_t v, uint32_t size = 8) {
    for (uint32_t i = 0; i < size; ++i) bytes_[gva + i] = (v >> (8 * i)) & 0xff;
  }

 private:
  std::map<uint64_t, uint8_t> bytes_;
};

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(FAKE_KERNEL_DIR) + "/fake_kernel.elf", std::ios::binary);
    elf_.assign(std::istreambuf_iterator<char>(in), {});
    absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(elf_, {});
    ASSERT_TRUE(k.ok()) << k.status();
    k_ = *std::move(k);
    const char* fns[] = {"switch_mm_irqs_off",     "enter_lazy_tlb",  "flush_tlb_mm_range",
                         "native_flush_tlb_multi", "flush_tlb_func",  "tlb_gather_mmu",
                         "tlb_finish_mmu",         "should_flush_tlb"};
    for (int i = 0; i < 8; ++i) k_.symbols.Add(fns[i], kFn + 0x1000 * i);
    k_.addresses.per_cpu_offset = kPerCpuOffsets;
    l_ = &k_.layout;
    ASSERT_TRUE(l_->has_pcpu_cpu_tlbstate);
    for (uint32_t c = 0; c < 2; ++c) g_.Put(kPerCpuOffsets + 8 * c, Base(c));
    Mm(kInitMm, 1, 1);
    Mm(kMmA, 5, 1);
    for (uint32_t c = 0; c < 2; ++c) Load(c, kInitMm, 0, 1, 1, false);
    tracker_ = std::make_unique<LinuxTracker>(k_, 2, [this](uint32_t cpu, v1::Event e) {
      v1::Event& slot = synth_.Add(cpu);
      v1::Event stamped = slot;
      slot = std::move(e);
      slot.set_vcpu(stamped.vcpu());
      slot.set_sequence(stamped.sequence());
      slot.set_vcpu_sequence(stamped.vcpu_sequence());
      slot.set_host_time_ns(stamped.host_time_ns());
    });
    ASSERT_TRUE(tracker_->skipped().empty());
  }

  uint64_t Base(uint32_t cpu) { return kDirectMap + 0x10000000 + 0x1000000ull * cpu; }
  uint64_t Ts(uint32_t cpu) { return Base(cpu) + l_->pcpu_cpu_tlbstate; }
  void Mm(uint64_t mm, uint64_t ctx_id, uint64_t gen) {
    g_.Put(mm + l_->mm_ctx_id.offset, ctx_id);
    g_.Put(mm + l_->mm_tlb_gen.offset, gen);
    g_.Put(mm + l_->mm_pgd.offset, mm + 0x100000);
    g_.Put(mm + l_->mm_cpu_bitmap.offset, 0);
    g_.Put(mm + l_->mm_tlb_flush_pending.offset, 0, 4);
  }
  void Gen(uint64_t mm, uint64_t gen) { g_.Put(mm + l_->mm_tlb_gen.offset, gen); }
  void Mask(uint64_t mm, uint64_t mask) { g_.Put(mm + l_->mm_cpu_bitmap.offset, mask); }
  void Load(uint32_t cpu, uint64_t mm, uint16_t asid, uint64_t ctx_id, uint64_t gen, bool lazy) {
    g_.Put(Ts(cpu) + l_->ts_loaded_mm.offset, mm);
    g_.Put(Ts(cpu) + l_->ts_loaded_mm_asid.offset, asid, 2);
    LocalGen(cpu, ctx_id, gen);
    Lazy(cpu, lazy);
  }
  void LocalGen(uint32_t cpu, uint64_t ctx_id, uint64_t gen) {
    uint64_t ctx = Ts(cpu) + l_->ts_ctxs.offset;
    g_.Put(ctx + l_->tc_ctx_id.offset, ctx_id);
    g_.Put(ctx + l_->tc_tlb_gen.offset, gen);
  }
  void Lazy(uint32_t cpu, bool lazy) {
    g_.Put(Base(cpu) + l_->pcpu_cpu_tlbstate_shared + l_->tss_is_lazy.offset, lazy, 1);
  }
  void Info(uint64_t mm, uint64_t start, uint64_t end, uint64_t gen, uint32_t init,
            bool freed = false) {
    g_.Put(kInfo + l_->fi_mm.offset, mm);
    g_.Put(kInfo + l_->fi_start.offset, start);
    g_.Put(kInfo + l_->fi_end.offset, end);
    g_.Put(kInfo + l_->fi_new_tlb_gen.offset, gen);
    g_.Put(kInfo + l_->fi_initiating_cpu.offset, init, 4);
    g_.Put(kInfo + l_->fi_stride_shift.offset, 12, 1);
    g_.Put(kInfo + l_->fi_freed_tables.offset, freed, 1);
  }
  // A call of function `fn` (index) on `cpu`: entry hit, `body`, return hit.
  void Call(uint32_t cpu, int fn, std::vector<uint64_t> args, const std::function<void()>& body,
            uint64_t rax = 0) {
    ProbeRegs r;
    r.rip = kFn + 0x1000 * fn;
    r.rsp = kDirectMap + 0x40000000 + 0x100000ull * cpu - 0x100 * depth_[cpu];
    for (size_t i = 0; i < args.size(); ++i) r.arg[i] = args[i];
    uint64_t ret = kRet + 0x10 * fn;
    g_.Put(r.rsp, ret);
    ASSERT_TRUE(tracker_->OnBreakpoint(cpu, r, g_));
    bool has_return =
        !tracker_->ReturnAddresses(cpu).empty() && tracker_->ReturnAddresses(cpu).back() == ret;
    ++depth_[cpu];
    body();
    --depth_[cpu];
    if (!has_return) return;
    ProbeRegs back;
    back.rip = ret;
    back.rsp = r.rsp + 8;
    back.rax = rax;
    ASSERT_TRUE(tracker_->OnBreakpoint(cpu, back, g_));
  }
  // should_flush_tlb(`asked`) on `cpu`, answering `yes`.
  void ShouldFlush(uint32_t cpu, uint32_t asked, bool yes) {
    Call(
        cpu, 7, {asked, kInfo}, [] {}, yes);
  }
  void Cr3(uint32_t cpu, uint64_t value) {
    tracker_->OnCr3Write(cpu, value, g_);
    synth_.Cr3(cpu, value);
  }
  // CPU `cpu` switches from init_mm to mm A (ctx 5) whose gen is `gen`.
  void SwitchToA(uint32_t cpu, uint64_t gen, uint64_t mask_after) {
    Call(cpu, 0, {kInitMm, kMmA, 0}, [&] {
      Mask(kMmA, mask_after);
      Cr3(cpu, kMmA + 0x100000 - kDirectMap);
      Load(cpu, kMmA, 0, 5, gen, false);
    });
  }
  // flush_tlb_func on `cpu` for the request to `gen` of [start, end).
  void FlushFunc(uint32_t cpu, uint64_t gen, uint64_t start, uint64_t end, bool invlpg = true) {
    Call(cpu, 4, {kInfo}, [&] {
      if (end - start > 0x100000) {
        Cr3(cpu, kMmA + 0x100000 - kDirectMap);  // a full flush: CR3 reload
      } else {
        for (uint64_t a = start; a < end && invlpg; a += 0x1000) synth_.Invlpg(cpu, a);
      }
      LocalGen(cpu, 5, gen);
    });
  }
  // CPU 0 flushes [start, end) of mm A, gen `gen`-1 -> `gen`, on CPUs 0 and 1.
  void Shootdown(uint64_t gen, uint64_t start, uint64_t end, bool cpu1_invlpg = true,
                 bool freed = false) {
    Call(0, 2, {kMmA, start, end, 12, freed}, [&] {
      Gen(kMmA, gen);
      Info(kMmA, start, end, gen, 0, freed);
      g_.Put(kInfo + 0x800, 0x3);  // the cpumask argument
      Call(0, 3, {kInfo + 0x800, kInfo}, [&] {
        ShouldFlush(0, 1, true);
        ShouldFlush(0, 0, true);
        FlushFunc(0, gen, start, end);
        FlushFunc(1, gen, start, end, cpu1_invlpg);
      });
    });
  }

  // An mmu_gather of [start, end) on `cpu`: tlb_gather_mmu (pending after
  // = `pending`), `inside`, then tlb_finish_mmu running `finish`.
  void Gather(uint32_t cpu, uint64_t start, uint64_t end, uint64_t pending,
              const std::function<void()>& inside, const std::function<void()>& finish) {
    uint64_t tlb = kDirectMap + 0x50000000 + 0x1000ull * cpu;
    Call(cpu, 5, {tlb, kMmA}, [&] {
      g_.Put(tlb + l_->mg_mm.offset, kMmA);
      g_.Put(tlb + l_->mg_start.offset, start);
      g_.Put(tlb + l_->mg_end.offset, end);
      g_.Put(tlb + l_->mg_freed_tables.offset, 0, 1);
      g_.Put(kMmA + l_->mm_tlb_flush_pending.offset, pending, 4);
    });
    inside();
    Call(cpu, 6, {tlb}, finish);
  }

  std::vector<uint8_t> elf_;
  KernelKnowledge k_;
  const KernelLayout* l_ = nullptr;
  FakeGuest g_;
  Synth synth_;
  std::unique_ptr<LinuxTracker> tracker_;
  std::map<uint32_t, int> depth_;
};

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

// CPU 1 goes lazy after CPU 0 read the targets at native_flush_tlb_multi's
// entry: the kernel's should_flush_tlb() says no to it, and Linux runs
// flush_tlb_func on CPU 0 only and waits for that one. The flush_request
// waits for the kernel's answers: clean (the targets read at the entry
// made this a flush-done-before-acks).
TEST_F(TrackerTest, TheTargetsAreTheCpusShouldFlushTlbSaidYesTo) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  Call(0, 2, {kMmA, 0x400000, 0x401000, 12, 0}, [&] {
    Gen(kMmA, 2);
    Info(kMmA, 0x400000, 0x401000, 2, 0);
    g_.Put(kInfo + 0x800, 0x3);
    Call(0, 3, {kInfo + 0x800, kInfo}, [&] {
      Lazy(1, true);             // CPU 1 goes idle now
      ShouldFlush(0, 1, false);  // the remote CPUs first
      ShouldFlush(0, 0, true);   // then this one
      FlushFunc(0, 2, 0x400000, 0x401000);
    });
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
  Call(0, 2, {kMmA, 0x400000, 0x401000, 12, 0}, [&] {
    Gen(kMmA, 2);
    Info(kMmA, 0x400000, 0x401000, 2, 0);
    g_.Put(kInfo + 0x800, 0x3);
    Call(0, 3, {kInfo + 0x800, kInfo}, [&] {
      ShouldFlush(0, 1, true);
      ShouldFlush(0, 0, true);
      FlushFunc(0, 2, 0x400000, 0x401000);
      Call(1, 1, {kMmA, 0}, [] {});  // enter_lazy_tlb on CPU 1
      Lazy(1, true);
      ProbeRegs func;
      func.rip = kFn + 0x4000;  // flush_tlb_func(info)
      func.rsp = kDirectMap + 0x40100000 - 0x800;
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
      EXPECT_THAT(tracker_->ReturnAddresses(1), ::testing::IsEmpty());
    });
  });
  collect::Collector c;
  EXPECT_THAT(synth_.Check(&c), ::testing::IsEmpty());
  const collect::MmModel* mm = c.state().mm(5);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->completed_gen, 2u);
  EXPECT_EQ(c.state().vcpu(1)->flush_funcs, 1u);
  EXPECT_EQ(c.state().vcpu(1)->loaded_mm, 1u);
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

// Frames left behind (a task that slept in a probed function and returned
// on another CPU) are bounded: the oldest go first.
TEST_F(TrackerTest, ReturnsWaitedForAreBounded) {
  for (int i = 0; i < 40; ++i) {
    ProbeRegs r;
    r.rip = kFn + 0x1000 * 6;  // tlb_finish_mmu, which waits for its return
    r.rsp = kDirectMap + 0x40000000 - 0x100 * i;
    g_.Put(r.rsp, kRet + i);
    ASSERT_TRUE(tracker_->OnBreakpoint(0, r, g_));
  }
  std::vector<uint64_t> rets = tracker_->ReturnAddresses(0);
  ASSERT_EQ(rets.size(), 16u);
  EXPECT_EQ(rets.front(), kRet + 24);
  EXPECT_EQ(rets.back(), kRet + 39);
}

}  // namespace
}  // namespace tlbscope::introspect
