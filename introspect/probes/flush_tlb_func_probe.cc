// flush_tlb_func(info): the flush on one CPU, local or from the IPI. The
// entry reads the CPU's state before; the return reads it after and emits
// flush_func with the generations, what it did (a CR3 reload seen in the
// call = full; the CPU lazy before and init_mm after = lazy_left; the mm not
// loaded = not_loaded, after the cpumask bit Linux cleared) and the
// request it serves (info->new_tlb_gen).
#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {
namespace {

class FlushTlbFuncProbe : public Probe {
 public:
  const char* function() const override { return "flush_tlb_func"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    absl::StatusOr<FlushInfo> info = state.Flush(r.arg[0]);
    absl::StatusOr<CpuTlbState> before = state.Cpu(cpu);
    if (!info.ok() || !before.ok()) {
      ++env.read_failures;
      return;
    }
    bool local = info->has_initiating_cpu ? info->initiating_cpu == cpu : st.in_request.has_value();
    if (local && st.in_request) {
      EmitDeferredFlushRequest(env, cpu, *st.in_request);
      EmitFlushRequest(env, cpu, *st.in_request, &*info, 1ull << cpu);
    } else if (!local) {
      v1::Event e;
      e.mutable_ipi_received()->set_vector(kCallFunctionVector);
      if (info->has_initiating_cpu) e.mutable_ipi_received()->set_source_cpu(info->initiating_cpu);
      env.Emit(cpu, std::move(e));
    }
    st.in_flush_func.push_back({*info, *before, CtxId(state, info->mm), false});
  }

  void OnReturn(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs&) override {
    CpuProbeState& st = env.cpu(cpu);
    if (st.in_flush_func.empty()) return;
    CpuProbeState::FlushFunc f = st.in_flush_func.back();
    st.in_flush_func.pop_back();
    absl::StatusOr<CpuTlbState> after = state.Cpu(cpu);
    absl::StatusOr<MmState> mm = state.Mm(f.info.mm);
    if (!after.ok() || !mm.ok()) {
      ++env.read_failures;
      return;
    }
    bool lazy_left = f.before.is_lazy && after->loaded_mm != f.info.mm;
    bool not_loaded = !lazy_left && f.info.mm != 0 && f.before.loaded_mm != f.info.mm;
    if (not_loaded) {
      v1::Event e;
      v1::CpumaskChange* c = e.mutable_cpumask();
      c->set_mm(f.mm_ctx);
      c->set_cpu(cpu);
      c->set_set(false);
      AddCpus(c->mutable_cpus(), MmCpus(state, f.info.mm));
      env.Emit(cpu, std::move(e));
    }
    v1::Event e;
    v1::FlushFunc* ff = e.mutable_flush_func();
    ff->set_mm(f.mm_ctx);
    ff->set_local_gen_before(f.before.local_gen);
    ff->set_local_gen_after(not_loaded || lazy_left ? f.before.local_gen : after->local_gen);
    ff->set_mm_gen(mm->tlb_gen);
    ff->set_start(f.info.start);
    ff->set_end(f.info.end);
    ff->set_full(f.reloaded);
    ff->set_lazy_left(lazy_left);
    ff->set_not_loaded(not_loaded);
    ff->set_request_tlb_gen(f.info.new_tlb_gen);
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeFlushTlbFuncProbe() { return std::make_unique<FlushTlbFuncProbe>(); }

}  // namespace tlbscope::introspect
