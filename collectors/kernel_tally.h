#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "collectors/event.h"
#include "collectors/state_model.h"

namespace tlbscope::collect {

// What the event stream says Linux's own TLB counters (/proc/vmstat
// nr_tlb_*, arch/x86/mm/tlb.c with CONFIG_DEBUG_TLBFLUSH) should read,
// counted the way the kernel counts them:
// - remote_sent (nr_tlb_remote_flush): one per native_flush_tlb_multi()
//   call, i.e. a flush_request whose mm's cpumask held another CPU: a
//   remote target, or a lazy CPU the request left out (Linux counts the
//   call even when every remote CPU was lazy and got no IPI);
// - remote_received (nr_tlb_remote_flush_received): one per flush_tlb_func
//   run for another CPU's request (a flush_func after an ipi_received on
//   that vCPU), early returns included;
// - local_full (nr_tlb_local_flush_all): a flush_tlb_func for this CPU's own
//   request that flushed everything;
// - local_one_pages (nr_tlb_local_flush_one): the pages a local partial
//   flush_tlb_func invalidated, (end - start) >> the request's stride.
// Local flush_funcs that did nothing (init_mm loaded, lazy, already up to
// date) count nothing, as in Linux. kernel_flush events add what Linux
// counts outside flush_tlb_func: flush_tlb_one_kernel() to local_one_pages,
// flush_tlb_all() to remote_sent, do_flush_tlb_all() on each CPU (the
// caller's too) to remote_received, cache_disable()/cache_enable() to
// local_full.
struct KernelCounts {
  uint64_t remote_sent = 0, remote_received = 0, local_full = 0, local_one_pages = 0;
  // kernel_flush ONE_KERNEL_PAGE made on the boot per-CPU area (counted in
  // local_one_pages too): /proc/vmstat counts each once per online CPU.
  uint64_t boot_percpu_one_pages = 0;
};

struct KernelTally : KernelCounts {
  uint64_t flush_events = 0;  // flush_request + flush_func + ipi_received seen
  // The counts at the guest's marks around its newest complete read of the
  // kernel's counters (guest_mark COUNTERS_READ_BEGIN, then END, on any
  // vCPU: the reader may move): the kernel's snapshot was taken between the
  // two. Unset without such a pair.
  std::optional<KernelCounts> read_begin, read_end;

  void Observe(const CEvent& e, const ApplyNotes& notes);

 private:
  void ObserveKernelFlush(uint64_t what, bool boot_percpu);
  void ObserveMark(uint64_t mark);
  std::optional<KernelCounts> open_read_;  // at a BEGIN not yet ended
  struct PerVcpu {
    uint32_t stride_shift = 12;  // of its newest flush_request
    bool ipi_pending = false;    // an ipi_received its flush_func has not consumed
  };
  std::array<PerVcpu, 64> vcpus_{};
};

}  // namespace tlbscope::collect
