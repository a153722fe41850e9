#include "collectors/kernel_tally.h"

namespace tlbscope::collect {

void KernelTally::Observe(const CEvent& e, const ApplyNotes& notes) {
  if (e.vcpu >= vcpus_.size()) return;
  PerVcpu& v = vcpus_[e.vcpu];
  switch (e.kind) {
    case Kind::kIpiReceived:
      ++flush_events;
      v.ipi_pending = true;
      break;
    case Kind::kFlushRequest: {
      ++flush_events;
      const FlushRequestF& r = e.flush_request;
      v.stride_shift = r.stride_shift < 64 ? r.stride_shift : 12;
      CpuMask remote = r.targets & ~(1ull << e.vcpu);
      if (remote != 0 || notes.lazy_skipped > 0) ++remote_sent;
      break;
    }
    case Kind::kFlushFunc: {
      ++flush_events;
      const FlushFuncF& f = e.flush_func;
      if (v.ipi_pending) {
        v.ipi_pending = false;
        ++remote_received;
        break;
      }
      if (f.not_loaded || f.lazy_left || f.local_gen_before == f.local_gen_after) break;
      if (f.full || f.end == kFlushAll || f.end < f.start) {
        ++local_full;
      } else {
        local_one_pages += (f.end - f.start) >> v.stride_shift;
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace tlbscope::collect
