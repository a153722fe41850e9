// on_each_cpu_cond_mask(cond_func, func, info, wait, mask): where
// native_flush_tlb_multi() hands its flush to the IPI code (a tail call).
// Its first argument says whom the kernel will ask: NULL (Linux's
// on_each_cpu_mask(), taken when page tables are freed) runs flush_tlb_func
// on every CPU of the mask; should_flush_tlb() is asked per remote CPU and
// its answers are the targets (should_flush_tlb_probe.cc). Where this is
// probed, native_flush_tlb_multi defers its flush_request to here even
// when tables are freed, so a kernel that skips lazy CPUs then (seed 000)
// shows the targets it really chose.
#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {
namespace {

class CondMaskProbe : public Probe {
 public:
  const char* function() const override { return "on_each_cpu_cond_mask"; }
  bool optional() const override { return true; }
  bool shows_flush_condition() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    if (!st.in_request || !st.in_request->deferred || r.arg[0] != 0) return;
    CpuProbeState::Request& q = *st.in_request;
    // No condition: every remote CPU of the mask it is given now (the
    // kernel copies it at once), else of the mask read at the multi call.
    absl::StatusOr<uint64_t> mask = state.CpuMask(r.arg[4]);
    q.asked |= mask.ok() ? *mask & ~(1ull << cpu) : q.remote_unanswered;
    q.remote_unanswered = 0;
    EmitDeferredFlushRequest(env, cpu, q);
  }
};

}  // namespace

std::unique_ptr<Probe> MakeCondMaskProbe() { return std::make_unique<CondMaskProbe>(); }

}  // namespace tlbscope::introspect
