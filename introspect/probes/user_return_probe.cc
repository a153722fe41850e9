// syscall_exit_to_user_mode(regs) and irqentry_exit_to_user_mode(regs):
// every return to user mode goes through one of them (a syscall, an
// exception or interrupt from user mode, a new task's ret_from_fork), and
// their exit work may schedule. At the return, the next thing the CPU does
// is the return to user: user_enter carries the mm it runs then and the
// CPU's local generation for it (cpu_tlbstate) and the mm's, and CR3's LAM
// bits (lam_probe.cc). The
// breakpoints go on the functions' return instructions (at_returns): one
// exit per return to user mode, the `ret` emulated.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class UserReturnProbe : public Probe {
 public:
  explicit UserReturnProbe(const char* function) : function_(function) {}
  const char* function() const override { return function_; }
  bool at_returns() const override { return true; }
  bool optional() const override { return true; }

  void OnEntry(ProbeEnv&, KernelState&, uint32_t, const ProbeRegs&) override {}

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
    absl::StatusOr<MmState> mm = s.ok() ? state.Mm(s->loaded_mm) : s.status();
    if (!mm.ok()) {
      ++env.read_failures;
      return;
    }
    SeeMmLam(env, state, cpu, s->loaded_mm);  // lam_set first, once per mm
    v1::Event e;
    v1::UserEnter* u = e.mutable_user_enter();
    u->set_mm(mm->ctx_id);
    // The slot's generation is this mm's only while the slot holds it.
    u->set_local_gen(s->local_ctx_id == mm->ctx_id ? s->local_gen : 0);
    u->set_mm_gen(mm->tlb_gen);
    u->set_cpu_lam(r.cr3 & kCr3LamBits);
    env.Emit(cpu, std::move(e));
  }

 private:
  const char* function_;
};

}  // namespace

std::vector<std::unique_ptr<Probe>> MakeUserReturnProbes() {
  std::vector<std::unique_ptr<Probe>> out;
  out.push_back(std::make_unique<UserReturnProbe>("syscall_exit_to_user_mode"));
  out.push_back(std::make_unique<UserReturnProbe>("irqentry_exit_to_user_mode"));
  return out;
}

}  // namespace tlbscope::introspect
