#pragma once
// Reads Linux's TLB state from guest memory with a kernel's layout:
// an mm's ctx_id, tlb_gen and pgd; a CPU's cpu_tlbstate (loaded mm, ASID,
// the generation of each ASID slot) and cpu_tlbstate_shared.is_lazy;
// flush_tlb_info and mmu_gather contents. Per-CPU data is found through
// __per_cpu_offset[cpu].
#include <cstdint>
#include <initializer_list>

#include "absl/status/statusor.h"
#include "introspect/knowledge.h"
#include "introspect/probes/guest_reader.h"

namespace tlbscope::introspect {

struct MmState {
  uint64_t address = 0;  // the struct mm_struct's kernel address
  uint64_t ctx_id = 0;   // 0 when address is 0 (no mm)
  uint64_t tlb_gen = 0;
  uint64_t pgd = 0;  // kernel virtual address of the top-level table
};

struct CpuTlbState {
  uint64_t loaded_mm = 0;  // struct mm_struct address
  uint16_t asid = 0;
  uint64_t local_ctx_id = 0;  // ctxs[asid].ctx_id
  uint64_t local_gen = 0;     // ctxs[asid].tlb_gen
  bool is_lazy = false;
};

struct FlushInfo {
  uint64_t mm = 0;  // address
  uint64_t start = 0, end = 0, new_tlb_gen = 0;
  uint32_t initiating_cpu = 0;
  bool has_initiating_cpu = false;
  uint32_t stride_shift = 0;
  bool freed_tables = false;
  // should_flush_tlb()'s rule (the kernel has trim_cpumask): a CPU whose
  // loaded mm is another is not asked unless the cpumask is being trimmed.
  bool has_trim_cpumask = false;
  bool trim_cpumask = false;
};

struct GatherState {
  uint64_t mm = 0;
  uint64_t start = 0, end = 0;
  bool fullmm = false, freed_tables = false;
};

class KernelState {
 public:
  // `k` must be complete (KernelKnowledge::complete()).
  KernelState(const KernelKnowledge& k, GuestReader& mem) : k_(k), mem_(mem) {}

  absl::StatusOr<MmState> Mm(uint64_t address);
  absl::StatusOr<uint64_t> PerCpuBase(uint32_t cpu);
  absl::StatusOr<CpuTlbState> Cpu(uint32_t cpu);
  absl::StatusOr<FlushInfo> Flush(uint64_t info);
  absl::StatusOr<GatherState> Gather(uint64_t tlb);
  // The CPUs set in the cpumask at `address` (CPUs 0..63).
  absl::StatusOr<uint64_t> CpuMask(uint64_t address);
  // mm_cpumask(mm): CPUs 0..63 of the bitmap at mm_struct.cpu_bitmap.
  absl::StatusOr<uint64_t> MmCpuMask(uint64_t mm);
  // `mm->tlb_flush_pending` (0 when the kernel has no such member).
  absl::StatusOr<uint64_t> FlushPending(uint64_t mm);
  // Whether mm->membarrier_state has MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE
  // (FailedPrecondition when the kernel's layout lacks the member or the bit).
  absl::StatusOr<bool> SyncCoreRegistered(uint64_t mm);
  // The mm's LAM: mm->context.lam_cr3_mask (CR3 bits 61/62) and untag_mask
  // (FailedPrecondition when the kernel has no LAM: no such members).
  struct MmLam {
    uint64_t cr3_bits = 0, untag_mask = 0;
  };
  absl::StatusOr<MmLam> Lam(uint64_t mm);

 private:
  absl::StatusOr<uint64_t> Field(uint64_t base, const introspect::Field& f);
  // One member to read into `*out`; an optional one the kernel lacks is skipped.
  struct FieldRead {
    const introspect::Field& field;
    uint64_t* out;
    bool optional = false;
  };
  // Reads each of `reads` of the struct at `base`; the first error.
  absl::Status Read(uint64_t base, std::initializer_list<FieldRead> reads);
  const KernelKnowledge& k_;
  GuestReader& mem_;
};

}  // namespace tlbscope::introspect
