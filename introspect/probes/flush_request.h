#pragma once
// The flush_request of the CPU's open flush_tlb_mm_range, emitted once:
// from native_flush_tlb_multi (targets from the cpumask), from the local
// flush_tlb_func call, or at the return when no CPU was asked.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {

void EmitFlushRequest(ProbeEnv& env, uint32_t cpu, CpuProbeState::Request& req,
                      const FlushInfo* info, uint64_t targets);

}  // namespace tlbscope::introspect
