// switch_mm_irqs_off(prev, next, tsk): the context switch. The entry reads
// the CPU's loaded mm and laziness; the CR3 write inside (the tracker's
// OnCr3Write) emits context_switch with exactly the value written; a switch
// that wrote none emits it with cr3 = 0 at the return, and a lazy CPU's
// lazy_exit follows. The LAM fields: lam_probe.cc.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class SwitchMmProbe : public Probe {
 public:
  const char* function() const override { return "switch_mm_irqs_off"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
    if (!s.ok()) {
      ++env.read_failures;
      return;
    }
    CpuProbeState::Switch sw;
    sw.prev_mm = CtxId(state, s->loaded_mm);
    sw.next_addr = r.arg[1];
    sw.next_mm = CtxId(state, r.arg[1]);
    sw.was_lazy = s->is_lazy;
    env.cpu(cpu).in_switch = sw;
  }

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    if (!st.in_switch) return;
    CpuProbeState::Switch sw = *st.in_switch;
    st.in_switch.reset();
    if (!sw.wrote_cr3) {
      v1::Event e;
      v1::ContextSwitch* cs = e.mutable_context_switch();
      cs->set_prev_mm(sw.prev_mm);
      cs->set_next_mm(sw.next_mm);
      cs->set_was_lazy(sw.was_lazy);
      cs->set_cr3(0);
      cs->set_cpu_lam(r.cr3 & kCr3LamBits);  // CR3 as the switch left it
      cs->set_mm_lam(SeeMmLam(env, state, cpu, sw.next_addr));
      env.Emit(cpu, std::move(e));
    }
    if (sw.was_lazy) {
      v1::Event e;
      e.mutable_lazy_exit()->set_mm(sw.next_mm);
      e.mutable_lazy_exit()->set_flushed(sw.wrote_cr3);
      env.Emit(cpu, std::move(e));
    }
  }
};

}  // namespace

std::unique_ptr<Probe> MakeSwitchMmProbe() { return std::make_unique<SwitchMmProbe>(); }

}  // namespace tlbscope::introspect
