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
    case Kind::kKernelFlush:
      ++flush_events;
      ObserveKernelFlush(e.Field<v1::KernelFlush::kWhatFieldNumber>(),
                         e.Field<v1::KernelFlush::kBootPercpuFieldNumber>() != 0);
      break;
    case Kind::kGuestMark:
      ObserveMark(e.Field<v1::GuestMark::kMarkFieldNumber>());
      break;
    default:
      break;
  }
}

void KernelTally::ObserveMark(uint64_t mark) {
  if (mark == v1::GuestMark::COUNTERS_READ_BEGIN) {
    open_read_ = static_cast<const KernelCounts&>(*this);
  } else if (mark == v1::GuestMark::COUNTERS_READ_END && open_read_) {
    read_begin = open_read_;
    read_end = static_cast<const KernelCounts&>(*this);
    open_read_.reset();
  }
}

void KernelTally::ObserveKernelFlush(uint64_t what, bool boot_percpu) {
  switch (what) {
    case v1::KernelFlush::ONE_KERNEL_PAGE:
      ++local_one_pages;
      if (boot_percpu) ++boot_percpu_one_pages;
      break;
    case v1::KernelFlush::ALL_REQUESTED:
      ++remote_sent;
      break;
    case v1::KernelFlush::ALL_RECEIVED:
      ++remote_received;
      break;
    case v1::KernelFlush::CACHE_CONTROL:
      ++local_full;
      break;
    default:  // a newer kind of kernel flush: not counted
      break;
  }
}

}  // namespace tlbscope::collect
