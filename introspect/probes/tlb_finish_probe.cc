// tlb_finish_mmu(tlb): the gather ends. The entry reads the range gathered,
// freed_tables and mm->tlb_flush_pending; Linux's nested check reads that
// again a few instructions later (> 1 = another gather of the mm is in
// flight), and where the VMM found that load it performs it and the value
// the kernel got replaces the entry's (load_disp); the return
// emits gather_end with what the kernel really flushed inside the call: the
// range, freed_tables and generation of the flush_request the task made
// there (none: flush_tlb_gen 0 and the gather's own range), after the
// page_table_free and page_free events of what the gather freed, covered by
// that flush (table_free_probe.cc, page_free_probe.cc). Nothing is
// inferred from what Linux should have done. What the entry read is kept
// with the call's frame: the task may sleep while it frees the pages and
// return on another CPU.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class TlbFinishMmuProbe : public Probe {
 public:
  const char* function() const override { return "tlb_finish_mmu"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    FrameData* f = env.cpu(cpu).frame;
    if (f == nullptr) return;
    absl::StatusOr<GatherState> s = state.Gather(r.arg[0]);
    if (!s.ok()) {
      ++env.read_failures;
      return;
    }
    absl::StatusOr<uint64_t> pending = state.FlushPending(s->mm);
    FrameData::Gather& g = f->gather;
    g.tlb = r.arg[0];
    g.mm_addr = s->mm;
    g.mm_ctx = CtxId(state, s->mm);
    g.start = s->start;
    g.end = s->end;
    g.freed_tables = s->freed_tables;
    g.pending_seen = pending.ok() ? *pending : 0;
  }

  // mm_tlb_flush_nested(): the kernel's own read of tlb_flush_pending.
  std::optional<int64_t> load_disp(const KernelLayout& l) const override {
    if (!l.mm_tlb_flush_pending.found) return std::nullopt;
    return l.mm_tlb_flush_pending.offset;
  }
  void OnLoad(ProbeEnv& env, uint32_t cpu, uint64_t value) override {
    FrameData* f = env.cpu(cpu).frame;
    if (f != nullptr) f->gather.pending_seen = value;
  }

  // On the CPU the task returns on, which may not be the one it entered on.
  void OnReturn(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs&) override {
    const FrameData* f = env.cpu(cpu).frame;
    if (f == nullptr || f->gather.tlb == 0) return;  // the entry could not read the gather
    const FrameData::Gather& g = f->gather;
    // Frees are judged against the flush that covered them; a gather that
    // flushed elsewhere (mid-zap, outside this call) names none here: its
    // frees are dropped rather than judged against no flush.
    if (f->flushed) {
      EmitGatherFrees(env, cpu, g.tlb, g.mm_ctx, f->flush_gen);
    } else {
      env.TakeFrees(g.tlb);
    }
    v1::Event e;
    v1::GatherEnd* ge = e.mutable_gather_end();
    ge->set_mm(g.mm_ctx);
    // Linux: a nested gather flushes the whole mm (fullmm, freed_tables).
    ge->set_flushed_start(f->flushed ? f->flush_start : g.start);
    ge->set_flushed_end(f->flushed ? f->flush_end : g.end);
    ge->set_flush_tlb_gen(f->flushed ? f->flush_gen : 0);
    ge->set_pending_seen(g.pending_seen);
    ge->set_nested(g.pending_seen > 1);
    ge->set_freed_tables(f->flushed && f->flush_freed_tables);
    ge->set_own_freed_tables(g.freed_tables);
    ge->set_gather(g.tlb);
    // levels (which page-table levels it freed) is not read: 0.
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeTlbFinishMmuProbe() { return std::make_unique<TlbFinishMmuProbe>(); }

}  // namespace tlbscope::introspect
