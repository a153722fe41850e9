#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "collectors/event.h"
#include "collectors/state_model.h"

namespace tlbscope::collect {

// Counts in power-of-two buckets: bucket 0 holds 0, bucket i holds
// [2^(i-1), 2^i).
class Log2Histogram {
 public:
  static constexpr int kBuckets = 64;
  void Add(uint64_t v);
  uint64_t count() const { return count_; }
  uint64_t bucket(int i) const { return b_[i]; }
  uint64_t max() const { return max_; }
  uint64_t sum() const { return sum_; }
  // Lower bound of bucket i.
  static uint64_t Low(int i) { return i == 0 ? 0 : 1ull << (i - 1); }
  // The value below which `q` (0..1) of the samples fall, to bucket precision.
  uint64_t Quantile(double q) const;

 private:
  std::array<uint64_t, kBuckets> b_{};
  uint64_t count_ = 0, max_ = 0, sum_ = 0;
};

struct Stats {
  uint64_t events = 0;
  std::array<uint64_t, kMaxKind> per_kind{};
  // Flush requests.
  uint64_t requests = 0, requests_full = 0, requests_freed_tables = 0;
  Log2Histogram range_pages;          // pages per ranged (non-full) request
  std::array<uint64_t, 65> fanout{};  // requests by number of remote targets
  uint64_t lazy_skipped = 0;          // lazy CPUs of the cpumask a request left out
  // flush_tlb_func runs by kind.
  uint64_t ff_partial = 0, ff_full = 0, ff_lazy_left = 0, ff_not_loaded = 0, ff_up_to_date = 0;
  // Shootdown latency, ns: request to the last target's flush_tlb_func, and
  // request to flush_done.
  Log2Histogram ack_latency_ns, done_latency_ns;
  uint64_t page_frees = 0, table_frees = 0, stale_reads = 0;

  void Observe(const CEvent& e, const ApplyNotes& notes);
};

}  // namespace tlbscope::collect
