// enter_lazy_tlb(mm, tsk): a kernel thread borrows the loaded mm. Linux
// does nothing when init_mm is loaded; otherwise the CPU becomes lazy.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

constexpr uint64_t kInitMmCtxId = 1;  // INIT_MM_CONTEXT: ctx_id = 1

class EnterLazyTlbProbe : public Probe {
 public:
  const char* function() const override { return "enter_lazy_tlb"; }
  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs&) override {
    absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
    if (!s.ok()) {
      ++env.read_failures;
      return;
    }
    uint64_t mm = CtxId(state, s->loaded_mm);
    if (mm == kInitMmCtxId || mm == 0 || s->is_lazy) return;
    v1::Event e;
    e.mutable_lazy_enter()->set_mm(mm);
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeEnterLazyTlbProbe() { return std::make_unique<EnterLazyTlbProbe>(); }

}  // namespace tlbscope::introspect
