#include "introspect/probes/kernel_state.h"

#include "absl/strings/str_format.h"

namespace tlbscope::introspect {

absl::StatusOr<uint64_t> KernelState::Field(uint64_t base, const introspect::Field& f) {
  uint32_t size = f.size == 0 || f.size > 8 ? 8 : f.size;
  absl::StatusOr<uint64_t> v = mem_.ReadU(base + f.offset, size);
  if (!v.ok() || f.bits == 0) return v;
  return (*v >> f.bit) & ((1ull << f.bits) - 1);
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
  READ_OR_RETURN(ctx_id, Field(address, l.mm_ctx_id));
  READ_OR_RETURN(gen, Field(address, l.mm_tlb_gen));
  READ_OR_RETURN(pgd, Field(address, l.mm_pgd));
  m.ctx_id = ctx_id;
  m.tlb_gen = gen;
  m.pgd = pgd;
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
  READ_OR_RETURN(loaded, Field(ts, l.ts_loaded_mm));
  READ_OR_RETURN(asid, Field(ts, l.ts_loaded_mm_asid));
  s.loaded_mm = loaded;
  s.asid = static_cast<uint16_t>(asid);
  if (s.asid >= l.ts_ctxs_count || l.tlb_context_size == 0) {
    return absl::OutOfRangeError(absl::StrFormat("cpu %u: loaded_mm_asid %u outside ctxs[%u]", cpu,
                                                 s.asid, l.ts_ctxs_count));
  }
  uint64_t ctx = ts + l.ts_ctxs.offset + uint64_t{s.asid} * l.tlb_context_size;
  READ_OR_RETURN(ctx_id, Field(ctx, l.tc_ctx_id));
  READ_OR_RETURN(gen, Field(ctx, l.tc_tlb_gen));
  READ_OR_RETURN(lazy, Field(base + l.pcpu_cpu_tlbstate_shared, l.tss_is_lazy));
  s.local_ctx_id = ctx_id;
  s.local_gen = gen;
  s.is_lazy = lazy != 0;
  return s;
}

absl::StatusOr<FlushInfo> KernelState::Flush(uint64_t info) {
  const KernelLayout& l = k_.layout;
  FlushInfo f;
  READ_OR_RETURN(mm, Field(info, l.fi_mm));
  READ_OR_RETURN(start, Field(info, l.fi_start));
  READ_OR_RETURN(end, Field(info, l.fi_end));
  READ_OR_RETURN(gen, Field(info, l.fi_new_tlb_gen));
  READ_OR_RETURN(stride, Field(info, l.fi_stride_shift));
  READ_OR_RETURN(freed, Field(info, l.fi_freed_tables));
  f.mm = mm, f.start = start, f.end = end, f.new_tlb_gen = gen;
  f.stride_shift = static_cast<uint32_t>(stride);
  f.freed_tables = freed != 0;
  if (l.fi_initiating_cpu.found) {
    READ_OR_RETURN(init, Field(info, l.fi_initiating_cpu));
    f.initiating_cpu = static_cast<uint32_t>(init);
    f.has_initiating_cpu = true;
  }
  return f;
}

absl::StatusOr<GatherState> KernelState::Gather(uint64_t tlb) {
  const KernelLayout& l = k_.layout;
  GatherState g;
  READ_OR_RETURN(mm, Field(tlb, l.mg_mm));
  READ_OR_RETURN(start, Field(tlb, l.mg_start));
  READ_OR_RETURN(end, Field(tlb, l.mg_end));
  g.mm = mm, g.start = start, g.end = end;
  if (l.mg_fullmm.found) {
    READ_OR_RETURN(full, Field(tlb, l.mg_fullmm));
    g.fullmm = full != 0;
  }
  if (l.mg_freed_tables.found) {
    READ_OR_RETURN(freed, Field(tlb, l.mg_freed_tables));
    g.freed_tables = freed != 0;
  }
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

#undef READ_OR_RETURN

}  // namespace tlbscope::introspect
