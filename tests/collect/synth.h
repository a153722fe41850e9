#pragma once

// Synthetic event streams for the collector tests, written record by
// record as docs/events.md orders them. Each helper appends tlbscope.v1
// Events with the next global sequence and a host time 1 us after the
// previous one.
#include <map>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect::testing {

inline constexpr uint64_t kInit = 1;
inline uint64_t RootOf(uint64_t mm) { return 0x100000ull * (mm + 1); }  // a CR3 per mm

class Synth {
 public:
  v1::Event& Add(uint32_t vcpu);

  // Records.
  void Cr3(uint32_t v, uint64_t cr3, bool boot = false);
  void Invlpg(uint32_t v, uint64_t addr);
  void Invpcid(uint32_t v, uint32_t type, uint64_t addr = 0);
  void ContextSwitch(uint32_t v, uint64_t prev, uint64_t next, uint64_t cr3, bool was_lazy = false,
                     bool reload = false, uint64_t cpu_lam = 0, uint64_t mm_lam = 0);
  void Cpumask(uint32_t v, uint64_t mm, uint64_t mask, uint32_t cpu, bool set);
  void LazyEnter(uint32_t v, uint64_t mm);
  void LazyExit(uint32_t v, uint64_t mm, bool flushed);
  void FlushRequest(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                    uint64_t targets, bool freed = false, uint32_t stride = 12);
  void IpiSent(uint32_t v, uint32_t target, uint32_t vector = 0x40);
  void IpiReceived(uint32_t v, uint32_t vector = 0x40);
  void FlushFunc(uint32_t v, uint64_t mm, uint64_t before, uint64_t after, uint64_t mm_gen,
                 uint64_t start, uint64_t end, bool full = false, bool lazy_left = false,
                 bool not_loaded = false);
  // The last event, a flush_func, names the request it serves (as Linux's
  // probes do: info->new_tlb_gen).
  void Serves(uint64_t request_gen);
  void FlushDone(uint32_t v, uint64_t mm, uint64_t gen, uint64_t acked);
  void GatherStart(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t pending);
  void GatherEnd(uint32_t v, uint64_t mm, uint64_t fstart, uint64_t fend, uint64_t gen,
                 uint32_t levels, uint64_t pending_seen, bool nested, bool freed, bool own_freed);
  void PageFree(uint32_t v, uint64_t mm, uint64_t addr, uint64_t gen);
  void TableFree(uint32_t v, uint64_t mm, uint64_t table, uint32_t level, uint64_t gen);
  void LamSet(uint32_t v, uint64_t mm, uint64_t bits);
  void Membarrier(uint32_t v, uint64_t mm);
  void SyncCore(uint32_t v, uint64_t mm);
  void UserEnter(uint32_t v, uint64_t mm, uint64_t local_gen, uint64_t mm_gen, uint64_t lam = 0);
  void UserExit(uint32_t v, uint64_t mm, uint32_t vector = 0x80);
  void StaleRead(uint32_t v, uint64_t mm, uint64_t addr);

  // Whole operations, as a correct Linux does them.
  // switch_mm_irqs_off to another mm: cpumask join, context_switch, CR3 write.
  void SwitchTo(uint32_t v, uint64_t prev, uint64_t next, uint64_t cpu_lam = 0,
                uint64_t mm_lam = 0);
  // flush_tlb_mm_range from `init`, every target (a mask, `init` included
  // when it runs the mm) flushing [start, end) from gen-1 to gen.
  void Shootdown(uint32_t init, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                 uint64_t targets, bool freed = false);
  // One target's flush_tlb_func for a request to `gen` (INVLPGs or a reload).
  void TargetFlush(uint32_t v, uint64_t mm, uint64_t start, uint64_t end, uint64_t gen,
                   bool remote);

  const std::vector<v1::Event>& events() const { return events_; }
  // Writes the stream as a trace file (header for `smp` vCPUs and
  // `event_source`, the events, and the end record when `with_end`).
  void WriteTrace(const std::string& path, int smp, bool with_end = true,
                  const std::string& event_source = "") const;
  // Runs the stream through a fresh collector; returns the invariant names reported.
  std::vector<std::string> Check(Collector* out = nullptr) const;

 private:
  std::vector<v1::Event> events_;
  std::map<uint32_t, uint64_t> vseq_;
  std::map<uint64_t, uint64_t> masks_;  // mm -> cpumask, for SwitchTo
  int64_t ns_ = 1'000'000;
};

// n vCPUs booted (boot CR3 loads), each switched from init_mm to `mm`,
// running it (not lazy).
inline Synth BootedInto(int n, uint64_t mm) {
  Synth s;
  for (int v = 0; v < n; ++v) s.Cr3(v, RootOf(kInit), /*boot=*/true);
  for (int v = 0; v < n; ++v) s.SwitchTo(v, kInit, mm);
  return s;
}

// n (>= 2) vCPUs in mm 2: a clean shootdown to all of them (gen 2), then
// an asynchronous flush to vCPUs 0 and 1 (gen 3) whose flush_done comes
// before vCPU 1's ack (the async-flush seed bug's shape); vCPU 1 flushes
// late. One flush-done-before-acks violation.
inline Synth AsyncFlushAfterShootdown(int n) {
  Synth s = BootedInto(n, 2);
  s.Shootdown(0, 2, 0x8000001000, 0x8000003000, 2, (1ull << n) - 1);
  s.FlushRequest(0, 2, 0x8000001000, 0x8000002000, 3, 0b011);
  s.IpiSent(0, 1);
  s.Invlpg(0, 0x8000001000);
  s.FlushFunc(0, 2, 2, 3, 3, 0x8000001000, 0x8000002000);
  s.FlushDone(0, 2, 3, 0b01);
  s.IpiReceived(1);
  s.Invlpg(1, 0x8000001000);
  s.FlushFunc(1, 2, 2, 3, 3, 0x8000001000, 0x8000002000);
  return s;
}

}  // namespace tlbscope::collect::testing
