// should_flush_tlb(cpu, info) (arch/x86/mm/tlb.c, 6.12 stable and later):
// native_flush_tlb_multi's on_each_cpu_cond_mask() asks it, on the
// initiating CPU, for each remote CPU of the mm's cpumask, before sending
// the IPIs; flush_tlb_func then runs on the CPUs it said yes to, and the
// initiator waits for exactly those. Its answers are the flush_request's
// remote targets, emitted once the last one is in: the tracker's own
// reading of is_lazy at native_flush_tlb_multi's entry is earlier, and a
// CPU may go lazy in between (seen under KVM).
#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {
namespace {

class ShouldFlushTlbProbe : public Probe {
 public:
  const char* function() const override { return "should_flush_tlb"; }
  bool wants_return() const override { return true; }
  bool optional() const override { return true; }  // 6.1 has tlb_is_not_lazy()
  bool answers_flush_targets() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs& r) override {
    env.cpu(cpu).should_flush_cpu = static_cast<uint32_t>(r.arg[0]);
  }

  void OnReturn(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    std::optional<uint32_t> asked = st.should_flush_cpu;
    st.should_flush_cpu.reset();
    // Only mm flushes are followed (flush_tlb_mm_range is open); a CPU
    // number beyond the model's 64 is the guest's to get wrong, not ours.
    if (!asked || !st.in_request || *asked >= 64 || *asked == cpu) return;
    CpuProbeState::Request& q = *st.in_request;
    if (!q.deferred) return;  // the initiator's own question, or no deferral
    const uint64_t bit = 1ull << *asked;
    if ((r.rax & 0xff) != 0) q.asked |= bit;
    q.remote_unanswered &= ~bit;
    if (q.remote_unanswered == 0) EmitDeferredFlushRequest(env, cpu, q);
  }
};

}  // namespace

std::unique_ptr<Probe> MakeShouldFlushTlbProbe() { return std::make_unique<ShouldFlushTlbProbe>(); }

}  // namespace tlbscope::introspect
