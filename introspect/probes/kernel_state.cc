#include "introspect/probes/kernel_state.h"

#include "absl/strings/str_format.h"

namespace tlbscope::introspect {

absl::StatusOr<uint64_t> KernelState::Field(uint64_t base, const introspect::Field& f) {
  uint32_t size = f.size == 0 || f.size > 8 ? 8 : f.size;
  absl::StatusOr<uint64_t> v = mem_.ReadU(base + f.offset, size);
  if (!v.ok() || f.bits == 0) return v;
  return (*v >> f.bit) & ((1ull << f.bits) - 1);
}

absl::Status KernelState::Read(uint64_t base, std::initializer_list<FieldRead> reads) {
  for (const FieldRead& r : reads) {
    if (r.optional && !r.field.found) continue;
    absl::StatusOr<uint64_t> v = Field(base, r.field);
    if (!v.ok()) return v.status();
    *r.out = *v;
  }
  return absl::OkStatus();
}

#define READ_OR_RETURN(var, expr)               \
  absl::StatusOr<uint64_t> var##_or = expr;     \
  if (!var##_or.ok()) return var##_or.status(); \
  uint64_t var = *var##_or

absl::StatusOr<MmState> KernelState::Mm(uint64_t address) {
  MmState m;
  m.address = address;
  if (address == 0) return m;
  const KernelLayout& l = k_.layout;
  absl::Status s =
      Read(address, {{l.mm_ctx_id, &m.ctx_id}, {l.mm_tlb_gen, &m.tlb_gen}, {l.mm_pgd, &m.pgd}});
  if (!s.ok()) return s;
  return m;
}

absl::StatusOr<uint64_t> KernelState::PerCpuBase(uint32_t cpu) {
  if (!k_.addresses.per_cpu_offset) return absl::FailedPreconditionError("no __per_cpu_offset");
  return mem_.ReadU(*k_.addresses.per_cpu_offset + 8ull * cpu, 8);
}

absl::StatusOr<CpuTlbState> KernelState::Cpu(uint32_t cpu) {
  const KernelLayout& l = k_.layout;
  READ_OR_RETURN(base, PerCpuBase(cpu));
  uint64_t ts = base + l.pcpu_cpu_tlbstate;
  CpuTlbState s;
  uint64_t asid = 0;
  absl::Status st = Read(ts, {{l.ts_loaded_mm, &s.loaded_mm}, {l.ts_loaded_mm_asid, &asid}});
  if (!st.ok()) return st;
  s.asid = static_cast<uint16_t>(asid);
  if (s.asid >= l.ts_ctxs_count || l.tlb_context_size == 0) {
    return absl::OutOfRangeError(absl::StrFormat("cpu %u: loaded_mm_asid %u outside ctxs[%u]", cpu,
                                                 s.asid, l.ts_ctxs_count));
  }
  uint64_t ctx = ts + l.ts_ctxs.offset + uint64_t{s.asid} * l.tlb_context_size;
  st = Read(ctx, {{l.tc_ctx_id, &s.local_ctx_id}, {l.tc_tlb_gen, &s.local_gen}});
  if (!st.ok()) return st;
  READ_OR_RETURN(lazy, Field(base + l.pcpu_cpu_tlbstate_shared, l.tss_is_lazy));
  s.is_lazy = lazy != 0;
  return s;
}

absl::StatusOr<FlushInfo> KernelState::Flush(uint64_t info) {
  const KernelLayout& l = k_.layout;
  FlushInfo f;
  uint64_t stride = 0, freed = 0, init = 0, trim = 0;
  absl::Status s = Read(info, {{l.fi_mm, &f.mm},
                               {l.fi_start, &f.start},
                               {l.fi_end, &f.end},
                               {l.fi_new_tlb_gen, &f.new_tlb_gen},
                               {l.fi_stride_shift, &stride},
                               {l.fi_freed_tables, &freed},
                               {l.fi_initiating_cpu, &init, /*optional=*/true},
                               {l.fi_trim_cpumask, &trim, /*optional=*/true}});
  if (!s.ok()) return s;
  f.stride_shift = static_cast<uint32_t>(stride);
  f.freed_tables = freed != 0;
  f.has_initiating_cpu = l.fi_initiating_cpu.found;
  f.initiating_cpu = static_cast<uint32_t>(init);
  f.has_trim_cpumask = l.fi_trim_cpumask.found;
  f.trim_cpumask = trim != 0;
  return f;
}

absl::StatusOr<GatherState> KernelState::Gather(uint64_t tlb) {
  const KernelLayout& l = k_.layout;
  GatherState g;
  uint64_t full = 0, freed = 0;  // members a kernel may not have
  absl::Status s = Read(tlb, {{l.mg_mm, &g.mm},
                              {l.mg_start, &g.start},
                              {l.mg_end, &g.end},
                              {l.mg_fullmm, &full, /*optional=*/true},
                              {l.mg_freed_tables, &freed, /*optional=*/true}});
  if (!s.ok()) return s;
  g.fullmm = full != 0;
  g.freed_tables = freed != 0;
  return g;
}

absl::StatusOr<uint64_t> KernelState::CpuMask(uint64_t address) { return mem_.ReadU(address, 8); }

absl::StatusOr<uint64_t> KernelState::MmCpuMask(uint64_t mm) {
  if (!k_.layout.mm_cpu_bitmap.found)
    return absl::FailedPreconditionError("no mm_struct.cpu_bitmap");
  return CpuMask(mm + k_.layout.mm_cpu_bitmap.offset);
}

absl::StatusOr<uint64_t> KernelState::FlushPending(uint64_t mm) {
  if (!k_.layout.mm_tlb_flush_pending.found) return 0;
  return Field(mm, k_.layout.mm_tlb_flush_pending);
}

absl::StatusOr<bool> KernelState::SyncCoreRegistered(uint64_t mm) {
  const KernelLayout& l = k_.layout;
  if (!l.mm_membarrier_state.found || !l.membarrier_sync_core_state) {
    return absl::FailedPreconditionError(
        "no mm_struct.membarrier_state or MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE");
  }
  READ_OR_RETURN(state, Field(mm, l.mm_membarrier_state));
  return (state & *l.membarrier_sync_core_state) != 0;
}

absl::StatusOr<KernelState::MmLam> KernelState::Lam(uint64_t mm) {
  const KernelLayout& l = k_.layout;
  if (!l.mm_lam_cr3_mask.found) {
    return absl::FailedPreconditionError("no mm_struct.context.lam_cr3_mask (no LAM)");
  }
  MmLam m;
  absl::Status s =
      Read(mm, {{l.mm_lam_cr3_mask, &m.cr3_bits}, {l.mm_untag_mask, &m.untag_mask, true}});
  if (!s.ok()) return s;
  return m;
}

#undef READ_OR_RETURN

}  // namespace tlbscope::introspect
