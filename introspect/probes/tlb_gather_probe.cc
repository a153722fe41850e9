// tlb_gather_mmu(tlb, mm): a gather starts (munmap, madvise). At its return
// mm->tlb_flush_pending has been incremented: gather_start carries it.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class TlbGatherMmuProbe : public Probe {
 public:
  const char* function() const override { return "tlb_gather_mmu"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    FrameData* f = env.cpu(cpu).frame;
    if (f == nullptr) return;
    f->gather.tlb = r.arg[0];
    env.TakeFrees(r.arg[0]);  // a gather that ended unseen at the same address
    f->gather.mm_addr = r.arg[1];
    f->gather.mm_ctx = CtxId(state, r.arg[1]);
  }

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs&) override {
    FrameData* f = env.cpu(cpu).frame;
    if (f == nullptr) return;
    const FrameData::Gather& g = f->gather;
    absl::StatusOr<GatherState> s = state.Gather(g.tlb);
    absl::StatusOr<uint64_t> pending = state.FlushPending(g.mm_addr);
    if (!s.ok() || !pending.ok()) {
      ++env.read_failures;
      return;
    }
    v1::Event e;
    v1::GatherStart* gs = e.mutable_gather_start();
    gs->set_mm(g.mm_ctx);
    gs->set_start(s->start);
    gs->set_end(s->end);
    gs->set_pending(*pending);
    gs->set_gather(g.tlb);
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeTlbGatherMmuProbe() { return std::make_unique<TlbGatherMmuProbe>(); }

}  // namespace tlbscope::introspect
