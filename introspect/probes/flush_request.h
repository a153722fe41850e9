#pragma once
// The flush_request of the CPU's open flush_tlb_mm_range, emitted once:
// from native_flush_tlb_multi (targets from the cpumask), from the local
// flush_tlb_func call, or at the return when no CPU was asked.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {

// Whether native_flush_tlb_multi runs flush_tlb_func on a CPU of the
// cpumask, by the kernel's own rule: tlb_is_not_lazy() where flush_tlb_info
// has no trim_cpumask, should_flush_tlb() where it has.
bool FlushTargetWanted(const FlushInfo& info, const CpuTlbState& cpu);

void EmitFlushRequest(ProbeEnv& env, uint32_t cpu, CpuProbeState::Request& req,
                      const FlushInfo* info, uint64_t targets);

// ipi_sent of a flush to the remote `targets`; nothing when there are none.
void EmitFlushIpi(ProbeEnv& env, uint32_t cpu, uint64_t targets);

// A deferred flush_request (see CpuProbeState::Request::deferred) with the
// answers so far, and its ipi_sent; nothing if none is deferred.
void EmitDeferredFlushRequest(ProbeEnv& env, uint32_t cpu, CpuProbeState::Request& req);

}  // namespace tlbscope::introspect
