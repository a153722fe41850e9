// flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables): opens a
// request on the initiating CPU; its return emits flush_done. The
// flush_request itself comes from what runs inside (flush_request.h).
#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {

void EmitFlushRequest(ProbeEnv& env, uint32_t cpu, CpuProbeState::Request& req,
                      const FlushInfo* info, uint64_t targets) {
  if (req.emitted) return;
  req.emitted = true;
  req.targets = targets;
  v1::Event e;
  v1::FlushRequest* f = e.mutable_flush_request();
  f->set_mm(req.mm_ctx);
  if (info != nullptr) {
    // What Linux decided: the widened range and the generation it took.
    req.new_tlb_gen = info->new_tlb_gen;
    f->set_start(info->start);
    f->set_end(info->end);
    f->set_stride_shift(info->stride_shift);
    f->set_freed_tables(info->freed_tables);
  } else {
    // No flush_tlb_info was seen: the generation is the one after the
    // entry's (docs/events.md says when that is not exact).
    req.new_tlb_gen = req.gen_at_entry + 1;
    f->set_start(req.start);
    f->set_end(req.end);
    f->set_stride_shift(req.stride_shift);
    f->set_freed_tables(req.freed_tables);
  }
  f->set_new_tlb_gen(req.new_tlb_gen);
  req.flushed_start = f->start();
  req.flushed_end = f->end();
  req.flushed_freed_tables = f->freed_tables();
  AddCpus(f->mutable_target_cpus(), targets);
  env.Emit(cpu, std::move(e));
}

void EmitDeferredFlushRequest(ProbeEnv& env, uint32_t cpu, CpuProbeState::Request& req) {
  if (!req.deferred || req.emitted) return;
  const FlushInfo info = *req.deferred;
  req.deferred.reset();
  EmitFlushRequest(env, cpu, req, &info, req.asked | req.local_target);
  EmitFlushIpi(env, cpu, req.asked);
}

void EmitFlushIpi(ProbeEnv& env, uint32_t cpu, uint64_t targets) {
  if (targets == 0) return;
  v1::Event e;
  AddCpus(e.mutable_ipi_sent()->mutable_target_cpus(), targets);
  e.mutable_ipi_sent()->set_vector(kCallFunctionVector);
  e.mutable_ipi_sent()->set_purpose("flush");
  env.Emit(cpu, std::move(e));
}

namespace {

class FlushTlbMmRangeProbe : public Probe {
 public:
  const char* function() const override { return "flush_tlb_mm_range"; }
  bool wants_return() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    absl::StatusOr<MmState> mm = state.Mm(r.arg[0]);
    if (!mm.ok()) {
      ++env.read_failures;
      return;
    }
    CpuProbeState::Request req;
    req.mm_addr = r.arg[0];
    req.mm_ctx = mm->ctx_id;
    req.gen_at_entry = mm->tlb_gen;
    req.start = r.arg[1];
    req.end = r.arg[2];
    req.stride_shift = static_cast<uint32_t>(r.arg[3] & 0xff);
    req.freed_tables = (r.arg[4] & 0xff) != 0;
    env.cpu(cpu).in_request = req;
  }

  void OnReturn(ProbeEnv& env, KernelState&, uint32_t cpu, const ProbeRegs&) override {
    CpuProbeState& st = env.cpu(cpu);
    if (!st.in_request) return;
    EmitDeferredFlushRequest(env, cpu, *st.in_request);
    EmitFlushRequest(env, cpu, *st.in_request, nullptr, 0);
    // flush_tlb_multi waits for every target (wait = true): all acked.
    v1::Event e;
    v1::FlushDone* d = e.mutable_flush_done();
    d->set_mm(st.in_request->mm_ctx);
    d->set_tlb_gen(st.in_request->new_tlb_gen);
    AddCpus(d->mutable_acked_cpus(), st.in_request->targets);
    if (FrameData* around = st.caller; around != nullptr) {
      // What a probed call around this one (tlb_finish_mmu) flushed.
      around->flushed = true;
      around->flush_gen = st.in_request->new_tlb_gen;
      around->flush_start = st.in_request->flushed_start;
      around->flush_end = st.in_request->flushed_end;
      around->flush_freed_tables = st.in_request->flushed_freed_tables;
    }
    st.in_request.reset();
    env.Emit(cpu, std::move(e));
  }
};

}  // namespace

std::unique_ptr<Probe> MakeFlushTlbMmRangeProbe() {
  return std::make_unique<FlushTlbMmRangeProbe>();
}

}  // namespace tlbscope::introspect
