#include "collectors/stats.h"

#include <algorithm>
#include <bit>

namespace tlbscope::collect {

void Log2Histogram::Add(uint64_t v) {
  int i = v == 0 ? 0 : std::bit_width(v);
  if (i >= kBuckets) i = kBuckets - 1;
  ++b_[i];
  ++count_;
  sum_ += v;
  if (v > max_) max_ = v;
}

uint64_t Log2Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * static_cast<double>(count_));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += b_[i];
    if (seen > want)
      return i == 0 ? 0 : std::min<uint64_t>(max_, i >= 64 ? ~0ull : (1ull << i) - 1);
  }
  return max_;
}

void Stats::Observe(const CEvent& e, const ApplyNotes& notes) {
  ++events;
  ++per_kind[static_cast<int>(e.kind) < kMaxKind ? static_cast<int>(e.kind) : 0];
  switch (e.kind) {
    case Kind::kFlushRequest: {
      const FlushRequestF& r = e.flush_request;
      ++requests;
      if (r.freed_tables) ++requests_freed_tables;
      if (r.end == kFlushAll) {
        ++requests_full;
      } else if (r.end > r.start) {
        uint32_t s = r.stride_shift < 64 ? r.stride_shift : 12;
        range_pages.Add((r.end - r.start + (1ull << s) - 1) >> s);
      }
      CpuMask remote = r.targets & ~(e.vcpu < 64 ? 1ull << e.vcpu : 0);
      ++fanout[std::popcount(remote)];
      lazy_skipped += notes.lazy_skipped;
      break;
    }
    case Kind::kFlushFunc: {
      const FlushFuncF& f = e.flush_func;
      if (f.not_loaded) {
        ++ff_not_loaded;
      } else if (f.lazy_left) {
        ++ff_lazy_left;
      } else if (f.local_gen_before == f.local_gen_after) {
        ++ff_up_to_date;
      } else if (f.full) {
        ++ff_full;
      } else {
        ++ff_partial;
      }
      if (notes.acked && notes.acked->unacked() == 0) {
        int64_t d = notes.acked->last_ack_ns - notes.acked->request_ns;
        ack_latency_ns.Add(d > 0 ? static_cast<uint64_t>(d) : 0);
      }
      break;
    }
    case Kind::kFlushDone:
      if (notes.completed) {
        int64_t d = notes.completed->done_ns - notes.completed->request_ns;
        done_latency_ns.Add(d > 0 ? static_cast<uint64_t>(d) : 0);
      }
      break;
    case Kind::kPageFree:
      ++page_frees;
      break;
    case Kind::kPageTableFree:
      ++table_frees;
      break;
    case Kind::kStaleRead:
      ++stale_reads;
      break;
    default:
      break;
  }
}

}  // namespace tlbscope::collect
