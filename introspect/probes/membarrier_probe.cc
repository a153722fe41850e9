// membarrier_register_private_expedited(flags): a task registers its mm for
// membarrier's private expedited commands. At the return (0: done), the
// mm of this CPU (the caller's: a syscall from user mode) has
// MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE in mm->membarrier_state
// when the registration was for SYNC_CORE: the bit finish_task_switch()
// tests before it serializes the core on an unlazy switch. The bit's value
// and the member's offset come from the kernel's BTF or DWARF. One
// membarrier_register per mm.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class MembarrierRegisterProbe : public Probe {
 public:
  const char* function() const override { return "membarrier_register_private_expedited"; }
  bool wants_return() const override { return true; }
  bool optional() const override { return true; }

  void OnEntry(ProbeEnv&, KernelState&, uint32_t, const ProbeRegs&) override {}

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    if (r.rax != 0) return;  // refused
    absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
    absl::StatusOr<bool> sync_core =
        s.ok() ? state.SyncCoreRegistered(s->loaded_mm) : absl::StatusOr<bool>(s.status());
    if (!sync_core.ok()) {
      ++env.read_failures;
      return;
    }
    uint64_t mm = CtxId(state, s->loaded_mm);
    if (!*sync_core || mm == 0 || !env.FirstSyncCoreSighting(mm)) return;
    v1::Event e;
    e.mutable_membarrier_register()->set_mm(mm);
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeMembarrierRegisterProbe() {
  return std::make_unique<MembarrierRegisterProbe>();
}

}  // namespace tlbscope::introspect
