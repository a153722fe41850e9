#pragma once

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

struct InvariantInfo {
  const char* name;     // the stable id printed in reports
  const char* summary;  // one line; collectors/README.md has the Linux rule
};

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
