// tlb_finish_mmu(tlb): the gather ends. The entry reads the range gathered,
// freed_tables and mm->tlb_flush_pending (Linux's nested check reads it
// right after: > 1 = another gather of the mm is in flight); the return
// emits gather_end with what the kernel really flushed inside the call: the
// range, freed_tables and generation of the flush_request this CPU made
// there (none: flush_tlb_gen 0 and the gather's own range). Nothing is
// inferred from what Linux should have done.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class TlbFinishMmuProbe : public Probe {
 public:
  const char* function() const override { return "tlb_finish_mmu"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    absl::StatusOr<GatherState> s = state.Gather(r.arg[0]);
    if (!s.ok()) {
      ++env.read_failures;
      return;
    }
    absl::StatusOr<uint64_t> pending = state.FlushPending(s->mm);
    CpuProbeState::Gather g;
    g.tlb = r.arg[0];
    g.mm_addr = s->mm;
    g.mm_ctx = CtxId(state, s->mm);
    g.start = s->start;
    g.end = s->end;
    g.freed_tables = s->freed_tables;
    g.pending_seen = pending.ok() ? *pending : 0;
    g.gen_before = st.last_request_gen;
    st.in_gather.push_back(g);
  }

  void OnReturn(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs&) override {
    CpuProbeState& st = env.cpu(cpu);
    if (st.in_gather.empty()) return;
    CpuProbeState::Gather g = st.in_gather.back();
    st.in_gather.pop_back();
    bool flushed = st.last_request_gen != g.gen_before;
    bool nested = g.pending_seen > 1;
    v1::Event e;
    v1::GatherEnd* ge = e.mutable_gather_end();
    ge->set_mm(g.mm_ctx);
    // Linux: a nested gather flushes the whole mm (fullmm, freed_tables).
    ge->set_flushed_start(flushed ? st.last_request_start : g.start);
    ge->set_flushed_end(flushed ? st.last_request_end : g.end);
    ge->set_flush_tlb_gen(flushed ? st.last_request_gen : 0);
    ge->set_pending_seen(g.pending_seen);
    ge->set_nested(nested);
    ge->set_freed_tables(flushed && st.last_request_freed_tables);
    ge->set_own_freed_tables(g.freed_tables);
    // levels (which page-table levels it freed) is not read: 0.
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeTlbFinishMmuProbe() { return std::make_unique<TlbFinishMmuProbe>(); }

}  // namespace tlbscope::introspect
