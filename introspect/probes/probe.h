#pragma once
// One probe = one kernel function: what to read at its entry and, when it
// asks for it, at its return (a breakpoint on the return address, matched
// by the stack pointer). Probes turn what they read into the same
// tlbscope.v1 events guest-probe's rings give (docs/events.md).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "introspect/probes/kernel_state.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::introspect {

struct FrameData;

// Per-vCPU state shared by the probes of one vCPU (only its thread touches it).
struct CpuProbeState {
  struct Switch {
    uint64_t prev_mm = 0, next_mm = 0;  // ctx_ids
    uint64_t next_addr = 0;
    bool was_lazy = false;
    bool wrote_cr3 = false;
  };
  std::optional<Switch> in_switch;
  struct FlushFunc {
    FlushInfo info;
    CpuTlbState before;
    uint64_t mm_ctx = 0;
    bool reloaded = false;
  };
  std::vector<FlushFunc> in_flush_func;
  struct Request {
    uint64_t mm_addr = 0, mm_ctx = 0;
    uint64_t gen_at_entry = 0;
    uint64_t start = 0, end = 0;
    uint32_t stride_shift = 0;
    bool freed_tables = false;
    bool emitted = false;  // flush_request already sent
    uint64_t new_tlb_gen = 0;
    uint64_t targets = 0;
    // What the flush_request said: the range Linux flushed.
    uint64_t flushed_start = 0, flushed_end = 0;
    bool flushed_freed_tables = false;
    // Where the kernel has should_flush_tlb() (probed), native_flush_tlb_multi
    // defers the flush_request until the kernel answered for every remote
    // CPU of the mask (should_flush_tlb_probe.cc): the targets are its
    // answers plus this CPU when it is one (its own state cannot change
    // under it).
    std::optional<FlushInfo> deferred;
    uint64_t remote_unanswered = 0, asked = 0, local_target = 0;
  };
  std::optional<Request> in_request;
  std::optional<uint32_t> should_flush_cpu;  // should_flush_tlb()'s argument
  // The frame of the probed call being entered or returned from (null for
  // a probe without a return), and the innermost probed call around it on
  // the same kernel stack (null for none): set by the tracker around
  // OnEntry / OnReturn.
  FrameData* frame = nullptr;
  FrameData* caller = nullptr;
};

// What a probed call keeps from its entry to its return. It lives with the
// call's frame, which belongs to the task (its kernel stack), not to a CPU:
// tlb_finish_mmu may sleep while it frees pages and return on another CPU.
struct FrameData {
  struct Gather {  // tlb_gather_mmu / tlb_finish_mmu
    uint64_t tlb = 0, mm_ctx = 0, mm_addr = 0;
    uint64_t start = 0, end = 0, pending_seen = 0;
    bool freed_tables = false;
  };
  Gather gather;
  // The latest flush_request done inside this call (flush_tlb_mm_range
  // returned within it, on whichever CPU): what the kernel flushed there.
  bool flushed = false;
  uint64_t flush_gen = 0, flush_start = 0, flush_end = 0;
  bool flush_freed_tables = false;
};

// What one mmu_gather unlinked and removed (table_free_probe.cc,
// page_free_probe.cc), kept by the struct's address until its
// tlb_finish_mmu returns, after the gather's flush.
inline constexpr size_t kMaxFreesPerGather = 64;
struct GatherFrees {
  // Each list keeps at most kMaxFreesPerGather; more is only counted.
  void AddTable(uint64_t address, uint32_t level) { Add(tables, {address, level}); }
  void AddPage(uint64_t page) { Add(pages, page); }
  struct Table {
    uint64_t address = 0;  // the kernel's handle: struct page (level 1), else the table's address
    uint32_t level = 0;    // 1 PT, 2 PD, 3 PDPT, 4 P4D
  };
  std::vector<Table> tables;
  std::vector<uint64_t> pages;  // struct page addresses
  uint64_t dropped = 0;         // beyond kMaxFreesPerGather of either

 private:
  template <typename T>
  void Add(std::vector<T>& list, T v) {
    if (list.size() >= kMaxFreesPerGather) {
      ++dropped;
      return;
    }
    list.push_back(v);
  }
};

// What the probes of one tracker share: per-vCPU state (each vCPU's
// only touched by its own thread), per-gather frees and the mms seen
// registered for SYNC_CORE (touched under the tracker's lock), and where
// events go.
class ProbeEnv {
 public:
  using EmitFn = std::function<void(uint32_t cpu, v1::Event)>;
  ProbeEnv(int num_cpus, EmitFn emit) : emit_(std::move(emit)), cpus_(num_cpus) {}
  void Emit(uint32_t cpu, v1::Event e) { emit_(cpu, std::move(e)); }
  CpuProbeState& cpu(uint32_t cpu) { return cpus_.at(cpu); }
  std::atomic<uint64_t> read_failures{0};
  bool kernel_answers_targets = false;  // should_flush_tlb() is probed
  bool kernel_shows_condition = false;  // on_each_cpu_cond_mask() is probed
  uint64_t boot_percpu_base = 0;        // __per_cpu_load (0: not known)

  // The frees gathered at `tlb` so far (a bounded number of gathers: the
  // oldest is forgotten first; a gather whose tlb_finish_mmu is never seen
  // would stay).
  GatherFrees& Frees(uint64_t tlb);
  // Takes them out (empty when none).
  GatherFrees TakeFrees(uint64_t tlb);
  // True the first time `mm_ctx` is seen registered (a bounded set).
  bool FirstSyncCoreSighting(uint64_t mm_ctx) { return FirstIn(sync_core_mms_, mm_ctx); }
  // True the first time `mm_ctx` is seen with LAM (a bounded set).
  bool FirstLamSighting(uint64_t mm_ctx) { return FirstIn(lam_mms_, mm_ctx); }

 private:
  EmitFn emit_;
  std::vector<CpuProbeState> cpus_;
  std::vector<std::pair<uint64_t, GatherFrees>> frees_;  // oldest first
  std::vector<uint64_t> sync_core_mms_;
  std::vector<uint64_t> lam_mms_;
  static bool FirstIn(std::vector<uint64_t>& seen, uint64_t mm_ctx);
};

// ctx_id of the mm at `address` (0 for none, or when unreadable).
uint64_t CtxId(KernelState& state, uint64_t address);
// The CPUs (0..63) whose bits are set in the mm's cpumask (0 if unknown).
uint64_t MmCpus(KernelState& state, uint64_t mm_address);
// CR3's LAM bits: 61 LAM_U57, 62 LAM_U48 (the SDM's).
inline constexpr uint64_t kCr3LamBits = (1ull << 61) | (1ull << 62);
// The LAM bits of the mm at `mm_address` (0: none, or a kernel without
// LAM); the first time an mm is seen with LAM, its lam_set is emitted on
// `cpu` first (lam_probe.cc).
uint64_t SeeMmLam(ProbeEnv& env, KernelState& state, uint32_t cpu, uint64_t mm_address);

class Probe {
 public:
  virtual ~Probe() = default;
  virtual const char* function() const = 0;
  virtual bool wants_return() const { return false; }
  // Its breakpoints go on the function's return instructions instead of
  // its entry (the VMM finds them): OnReturn at each, with no frame and no
  // OnEntry. One exit per call instead of two, and the return emulated.
  virtual bool at_returns() const { return false; }
  // A function only some kernels have: its absence is no problem to report.
  virtual bool optional() const { return false; }
  // Whether this kernel's layout gives the probe anything to read (a probe
  // whose facts a kernel lacks gets no breakpoint: no exits for nothing).
  virtual bool needed(const KernelLayout&) const { return true; }
  // Its answers are the flush targets (should_flush_tlb): where it is
  // probed, native_flush_tlb_multi defers its flush_request to them.
  virtual bool answers_flush_targets() const { return false; }
  // It shows whether the kernel asks should_flush_tlb() at all
  // (on_each_cpu_cond_mask): native_flush_tlb_multi defers every request.
  virtual bool shows_flush_condition() const { return false; }
  virtual void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) = 0;
  virtual void OnReturn(ProbeEnv&, KernelState&, uint32_t, const ProbeRegs&) {}
  // A load inside the function that the probe must see exactly as the
  // kernel does: the displacement (a field offset, from the layout) of a
  // `mov r32, dword [reg + disp]` whose destination register the VMM reads
  // at an int3 right after it (vmm/linux/load_site.h). OnLoad then gets the
  // value the kernel got, with env.cpu(cpu).frame the call's frame.
  virtual std::optional<int64_t> load_disp(const KernelLayout&) const { return std::nullopt; }
  virtual void OnLoad(ProbeEnv&, uint32_t, uint64_t) {}
};

// Every probe, one per file (switch_mm_probe.cc, ...).
std::unique_ptr<Probe> MakeSwitchMmProbe();
std::unique_ptr<Probe> MakeEnterLazyTlbProbe();
std::unique_ptr<Probe> MakeFlushTlbMmRangeProbe();
std::unique_ptr<Probe> MakeFlushTlbMultiProbe();
std::unique_ptr<Probe> MakeFlushTlbFuncProbe();
std::unique_ptr<Probe> MakeTlbGatherMmuProbe();
std::unique_ptr<Probe> MakeTlbFinishMmuProbe();
std::unique_ptr<Probe> MakeShouldFlushTlbProbe();
std::unique_ptr<Probe> MakeCondMaskProbe();
// ___pte_free_tlb, ___pmd_free_tlb, ___pud_free_tlb, ___p4d_free_tlb.
std::vector<std::unique_ptr<Probe>> MakeTableFreeProbes();
// __tlb_remove_folio_pages, __tlb_remove_page_size.
std::vector<std::unique_ptr<Probe>> MakePageFreeProbes();
std::unique_ptr<Probe> MakeMembarrierRegisterProbe();
// do_arch_prctl_64: the prctl that enables LAM (lam_probe.cc).
std::unique_ptr<Probe> MakeArchPrctlProbe();
// syscall_exit_to_user_mode, irqentry_exit_to_user_mode.
std::vector<std::unique_ptr<Probe>> MakeUserReturnProbes();
// The gather's frees (page_table_free, page_free events) with the
// generation of the flush that covered them (0: it made none), before its
// gather_end (tlb_finish_probe.cc).
void EmitGatherFrees(ProbeEnv& env, uint32_t cpu, uint64_t tlb, uint64_t mm_ctx,
                     uint64_t covering_gen);
// flush_tlb_one_kernel, flush_tlb_all, do_flush_tlb_all, cache_disable/enable.
std::vector<std::unique_ptr<Probe>> MakeKernelFlushProbes();

// Vector Linux x86 sends flush_tlb_func IPIs on (CALL_FUNCTION_VECTOR).
inline constexpr uint32_t kCallFunctionVector = 0xfb;

// Helpers to fill repeated CPU lists from a mask.
template <typename Repeated>
void AddCpus(Repeated* out, uint64_t mask) {
  for (uint32_t c = 0; c < 64; ++c) {
    if (mask & (1ull << c)) out->Add(c);
  }
}

}  // namespace tlbscope::introspect
