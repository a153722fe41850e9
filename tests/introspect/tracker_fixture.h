#pragma once
// The fake Linux guest LinuxTracker's tests run on: kernel memory laid out
// by the layout introspect read from fake_kernel.elf's DWARF, breakpoint
// hits made by hand as the VMM would report them, and the events synthesized
// with the trapped CR3 writes and INVLPGs for the real collector.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "collectors/collector.h"
#include "introspect/knowledge.h"
#include "introspect/probes/tracker.h"
#include "tests/collect/synth.h"

namespace tlbscope::introspect::testing {

using collect::testing::Synth;

using collect::testing::Synth;

constexpr uint64_t kDirectMap = 0xffff888000000000ull;
constexpr uint64_t kPerCpuOffsets = 0xffffffff82000000ull;
constexpr uint64_t kInitMm = 0xffffffff83000000ull;
constexpr uint64_t kMmA = kDirectMap + 0x20000000;
constexpr uint64_t kInfo = kDirectMap + 0x30000000;
constexpr uint64_t kFn = 0xffffffff81000000ull;          // functions at kFn + 0x1000 * i
constexpr uint64_t kBootPercpu = 0xffffffff816a8000ull;  // __per_cpu_load
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
    const char* fns[] = {"switch_mm_irqs_off",
                         "enter_lazy_tlb",
                         "flush_tlb_mm_range",
                         "native_flush_tlb_multi",
                         "flush_tlb_func",
                         "tlb_gather_mmu",
                         "tlb_finish_mmu",
                         "should_flush_tlb",
                         "flush_tlb_one_kernel",
                         "flush_tlb_all",
                         "do_flush_tlb_all",
                         "___pte_free_tlb",  // 11
                         "___pmd_free_tlb",
                         "__tlb_remove_page_size",  // 13
                         "membarrier_register_private_expedited",
                         "syscall_exit_to_user_mode",  // 15
                         "irqentry_exit_to_user_mode",
                         "on_each_cpu_cond_mask",  // 17
                         "do_arch_prctl_64"};
    for (int i = 0; i < 19; ++i) k_.symbols.Add(fns[i], kFn + 0x1000 * i);
    k_.symbols.Add("__start_init_stack", kDirectMap + 0x70000000);  // THREAD_SIZE 16 KiB
    k_.symbols.Add("__end_init_stack", kDirectMap + 0x70004000);
    k_.symbols.Add("__per_cpu_load", kBootPercpu);
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

  // The top of the task stack running on `cpu` (inside one 16 KiB block).
  uint64_t Stack(uint32_t cpu) { return kDirectMap + 0x40003f00 + 0x100000ull * cpu; }
  uint64_t Base(uint32_t cpu) { return kDirectMap + 0x10000000 + 0x1000000ull * cpu; }
  uint64_t Ts(uint32_t cpu) { return Base(cpu) + l_->pcpu_cpu_tlbstate; }
  void Mm(uint64_t mm, uint64_t ctx_id, uint64_t gen) {
    g_.Put(mm + l_->mm_ctx_id.offset, ctx_id);
    g_.Put(mm + l_->mm_tlb_gen.offset, gen);
    g_.Put(mm + l_->mm_pgd.offset, mm + 0x100000);
    g_.Put(mm + l_->mm_cpu_bitmap.offset, 0);
    g_.Put(mm + l_->mm_tlb_flush_pending.offset, 0, 4);
    g_.Put(mm + l_->mm_membarrier_state.offset, 0, 4);
    g_.Put(mm + l_->mm_lam_cr3_mask.offset, 0);
    g_.Put(mm + l_->mm_untag_mask.offset, ~0ull);
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
    r.rsp = Stack(cpu) - 0x100 * depth_[cpu];
    r.cr3 = cr3_[cpu];
    for (size_t i = 0; i < args.size(); ++i) r.arg[i] = args[i];
    uint64_t ret = kRet + 0x10 * fn;
    g_.Put(r.rsp, ret);
    ASSERT_TRUE(tracker_->OnBreakpoint(cpu, r, g_));
    bool has_return =
        !tracker_->ReturnAddresses().empty() && tracker_->ReturnAddresses().back() == ret;
    ++depth_[cpu];
    body();
    --depth_[cpu];
    if (!has_return) return;
    ProbeRegs back;
    back.rip = ret;
    back.rsp = r.rsp + 8;
    back.rax = rax;
    back.cr3 = cr3_[cpu];
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
    cr3_[cpu] = value;
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
    ShootdownWith(gen, start, end, freed, [&] {
      ShouldFlush(0, 1, true);
      ShouldFlush(0, 0, true);
      FlushFunc(0, gen, start, end);
      FlushFunc(1, gen, start, end, cpu1_invlpg);
    });
  }
  // CPU 0's flush_tlb_mm_range and native_flush_tlb_multi (cpumask 0,1)
  // of [start, end) of mm A to `gen`, running `inside` in the latter.
  void ShootdownWith(uint64_t gen, uint64_t start, uint64_t end, bool freed,
                     const std::function<void()>& inside) {
    Call(0, 2, {kMmA, start, end, 12, freed}, [&] {
      Gen(kMmA, gen);
      Info(kMmA, start, end, gen, 0, freed);
      g_.Put(kInfo + 0x800, 0x3);  // the cpumask argument
      Call(0, 3, {kInfo + 0x800, kInfo}, inside);
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
  std::map<uint32_t, uint64_t> cr3_;  // each CPU's CR3: the last value written
};

}  // namespace tlbscope::introspect::testing
