// LAM (CONFIG_ADDRESS_MASKING). An mm's LAM is set once, by
// prctl(ARCH_ENABLE_TAGGED_ADDR) (locked after it; a fork inherits it), in
// mm->context.lam_cr3_mask: the CR3 bits (61 U57, 62 U48) that
// switch_mm_irqs_off() loads with the mm's root, and that the prctl's
// enable_lam_func() IPIs add to the CR3 of each CPU that has the mm loaded.
// The probes report:
// - lam_set {mm, lam_cr3_bits, untag_mask} the first time an mm is seen
//   with LAM, before the event that saw it: at do_arch_prctl_64's return
//   (the prctl that set it, its IPIs done), or at a switch to, or a return
//   to user mode in, an mm that inherited it;
// - cpu_lam (context_switch, user_enter): the LAM bits of CR3 itself, the
//   value written or CR3 at the probe's hit; mm_lam (context_switch): the
//   mm's lam_cr3_mask as the switch could read it.
// A kernel without the members reports none of this (supplies.cc).
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class ArchPrctlProbe : public Probe {
 public:
  const char* function() const override { return "do_arch_prctl_64"; }
  bool wants_return() const override { return true; }
  bool optional() const override { return true; }
  // Every arch_prctl would exit for nothing in a kernel without LAM.
  bool needed(const KernelLayout& l) const override { return l.mm_lam_cr3_mask.found; }

  void OnEntry(ProbeEnv&, KernelState&, uint32_t, const ProbeRegs&) override {}

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    if (r.rax != 0) return;  // refused: nothing changed
    absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
    if (!s.ok()) {
      ++env.read_failures;
      return;
    }
    SeeMmLam(env, state, cpu, s->loaded_mm);
  }
};

}  // namespace

uint64_t SeeMmLam(ProbeEnv& env, KernelState& state, uint32_t cpu, uint64_t mm_address) {
  if (mm_address == 0) return 0;
  absl::StatusOr<KernelState::MmLam> lam = state.Lam(mm_address);
  if (!lam.ok()) {
    if (!absl::IsFailedPrecondition(lam.status())) ++env.read_failures;
    return 0;
  }
  if (lam->cr3_bits == 0) return 0;
  uint64_t mm = CtxId(state, mm_address);
  if (mm != 0 && env.FirstLamSighting(mm)) {
    v1::Event e;
    v1::LamSet* l = e.mutable_lam_set();
    l->set_mm(mm);
    l->set_lam_cr3_bits(lam->cr3_bits);
    l->set_untag_mask(lam->untag_mask);
    env.Emit(cpu, std::move(e));
  }
  return lam->cr3_bits;
}

std::unique_ptr<Probe> MakeArchPrctlProbe() { return std::make_unique<ArchPrctlProbe>(); }

}  // namespace tlbscope::introspect
