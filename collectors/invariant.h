#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectors/event.h"
#include "collectors/state_model.h"
#include "collectors/violation.h"

namespace tlbscope::collect {

// A named coherence rule. Check() sees each event before the state model
// applies it (so `before` is the state the event acts on); an invariant
// keeps whatever extra per-vCPU or per-mm state it needs, bounded by the
// number of vCPUs and mms.
class Invariant {
 public:
  virtual ~Invariant() = default;
  virtual void Check(const CEvent& e, const StateModel& before, ViolationSink& out) = 0;
  // The event kinds Check() looks at (bit = Kind value); the collector calls
  // it for those only.
  virtual uint64_t Kinds() const = 0;
  // At the end of the stream; `complete`: the trace ended with its end
  // record (a cut-off trace leaves operations legitimately unfinished).
  virtual void Finish(const StateModel& /*state*/, bool /*complete*/, ViolationSink& /*out*/) {}
};

constexpr uint64_t KindBit(Kind k) { return 1ull << static_cast<int>(k); }

// What an invariant needs from the stream beyond what every event source
// gives (docs/events.md). A stream without one of them (a Linux guest's
// probes supply fewer fields than guest-probe's rings; --no-trap) leaves the
// invariant "not checked" rather than guessed or passed.
enum Need : uint32_t {
  kNeedUserEntry = 1u << 0,   // user_enter / user_exit records (local gen at return to user)
  kNeedLam = 1u << 1,         // LAM bits: context_switch cpu_lam/mm_lam, lam_set
  kNeedPageFree = 1u << 2,    // page_free records
  kNeedTableFree = 1u << 3,   // page_table_free records
  kNeedMembarrier = 1u << 4,  // membarrier_register / sync_core records
  kNeedStaleRead = 1u << 5,   // stale_read records (the guest checking its own reads)
  kNeedTrappedCr3 = 1u << 6,  // trapped CR3 writes
  kNeedTrappedTlb = 1u << 7,  // some trapped TLB instruction (CR3, INVLPG or INVPCID)
  // The guest's own TLB events: context_switch, flush_request / flush_func /
  // flush_done, gathers. Missing when a Linux kernel ran without its probes.
  kNeedGuestTlbEvents = 1u << 8,
  kNeedAllGuestFields = (1u << 6) - 1,
};

struct InvariantInfo {
  const char* name;     // the stable id printed in reports
  const char* summary;  // one line; collectors/README.md has the Linux rule
  uint32_t needs = 0;   // Need bits
};

// Where a stream's guest events come from (TraceHeader.event_source) and so
// which Need bits it can supply: "guest-rings" (guest-probe's shared-memory
// rings: every field; also an older trace without the field), "linux"
// (introspect/'s probes on a Linux kernel: docs/events.md "From a real Linux
// kernel") or "linux-trapped" (a Linux kernel without its probes: trapped
// instructions only). An unknown source supplies none of them.
// `linux_events` (TraceHeader.linux_events) adds, for "linux", the kinds its
// probes supply beyond the base set: "page_table_free", "page_free",
// "user_enter", "membarrier", "lam"; an unknown word adds nothing.
uint32_t SuppliedBy(const std::string& event_source,
                    const std::vector<std::string>& linux_events = {});

// The first Need bit of `needs` that `supplied` lacks, as words for a
// report ("page_table_free records"); empty if none.
std::string MissingNeed(uint32_t needs, uint32_t supplied);

// Every invariant the checker knows, in report order.
const std::vector<InvariantInfo>& InvariantCatalog();

// One instance of each invariant family (a family may report several names).
std::vector<std::unique_ptr<Invariant>> MakeInvariants();

// Family factories, one file each.
std::unique_ptr<Invariant> MakeUserReturnInvariant();  // user-return-stale-gen, stale-read-observed
std::unique_ptr<Invariant>
MakeTableFreeInvariant();  // table-freed-while-walkable, page-freed-while-mapped
std::unique_ptr<Invariant> MakeFlushDoneInvariant();  // flush-done-before-acks
std::unique_ptr<Invariant> MakeLamInvariant();        // lam-mismatch
std::unique_ptr<Invariant> MakeGatherInvariant();     // nested-gather-underflush
std::unique_ptr<Invariant>
MakeHardwareInvariant();  // flush-without-instruction, cr3-write-unannounced
std::unique_ptr<Invariant> MakeSyncCoreInvariant();  // unlazy-without-sync-core

}  // namespace tlbscope::collect
