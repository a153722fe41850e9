// native_flush_tlb_multi(cpumask, info): the remote shootdown. Linux runs
// flush_tlb_func on the CPUs of the mm's cpumask that FlushTargetWanted()
// picks (all of them when freed_tables), the initiator included when it is
// in the mask, and waits for them. Emits flush_request with those targets,
// then ipi_sent to the remote ones.
#include "introspect/probes/flush_request.h"

namespace tlbscope::introspect {

// LOADED_MM_SWITCHING (arch/x86/include/asm/tlbflush.h): loaded_mm while
// switch_mm_irqs_off is between two mms.
constexpr uint64_t kLoadedMmSwitching = 1;

bool FlushTargetWanted(const FlushInfo& info, const CpuTlbState& cpu) {
  if (info.freed_tables) return true;       // on_each_cpu_mask: every CPU of the mask
  if (cpu.is_lazy) return false;            // flushed at its next switch instead
  if (!info.has_trim_cpumask) return true;  // tlb_is_not_lazy(): that is all
  // should_flush_tlb()
  if (info.mm == 0 || cpu.loaded_mm == kLoadedMmSwitching) return true;
  return cpu.loaded_mm == info.mm || info.trim_cpumask;
}

namespace {

class FlushTlbMultiProbe : public Probe {
 public:
  const char* function() const override { return "native_flush_tlb_multi"; }

  void OnEntry(ProbeEnv& env, KernelState& state, uint32_t cpu, const ProbeRegs& r) override {
    CpuProbeState& st = env.cpu(cpu);
    absl::StatusOr<uint64_t> mask = state.CpuMask(r.arg[0]);
    absl::StatusOr<FlushInfo> info = state.Flush(r.arg[1]);
    if (!mask.ok() || !info.ok()) {
      ++env.read_failures;
      return;
    }
    uint64_t targets = 0;
    for (uint32_t c = 0; c < 64; ++c) {
      if ((*mask & (1ull << c)) == 0) continue;
      absl::StatusOr<CpuTlbState> s = state.Cpu(c);
      if (!s.ok()) {
        ++env.read_failures;
        continue;
      }
      if (FlushTargetWanted(*info, *s)) targets |= 1ull << c;
    }
    if (!st.in_request) {
      // Called without flush_tlb_mm_range (flush_tlb_kernel_range etc.)
      // is outside the mm model; only mm flushes are followed.
      return;
    }
    const uint64_t self = 1ull << cpu;
    // Freed tables: every CPU of the mask, unless the kernel asks
    // should_flush_tlb() all the same (cond_mask_probe.cc says which).
    bool defer = env.kernel_answers_targets && (!info->freed_tables || env.kernel_shows_condition);
    if (defer && (*mask & ~self) != 0) {
      CpuProbeState::Request& q = *st.in_request;
      q.deferred = *info;
      q.remote_unanswered = *mask & ~self;
      q.local_target = targets & self;
      return;
    }
    EmitFlushRequest(env, cpu, *st.in_request, &*info, targets);
    EmitFlushIpi(env, cpu, targets & ~self);
  }
};

}  // namespace

std::unique_ptr<Probe> MakeFlushTlbMultiProbe() { return std::make_unique<FlushTlbMultiProbe>(); }

}  // namespace tlbscope::introspect
