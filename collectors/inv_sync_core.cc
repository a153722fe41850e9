// unlazy-without-sync-core.
//
// Linux (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE), x86
// switch_mm_irqs_off / sync_core_before_usermode): a CPU that switches
// into an mm registered for SYNC_CORE must execute a serializing
// instruction before it returns to that mm's user code. A normal switch
// writes CR3, which serializes; a lazy CPU switching back to the same mm
// with nothing to flush writes no CR3 -- exactly the case where the
// flush IPI was skipped -- and must serialize explicitly (seed 004).
#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

class SyncCoreInvariant : public Invariant {
 public:
  uint64_t Kinds() const override {
    return KindBit(Kind::kContextSwitch) | KindBit(Kind::kCr3Write) | KindBit(Kind::kSyncCore) |
           KindBit(Kind::kUserEnter);
  }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.vcpu >= kMaxVcpus) return;
    if (e.vcpu >= pending_.size()) pending_.resize(e.vcpu + 1);
    Pending& p = pending_[e.vcpu];
    switch (e.kind) {
      case Kind::kContextSwitch: {
        const ContextSwitchF& c = e.cs;
        if (c.raw) return;
        const VcpuModel* vm = before.vcpu(e.vcpu);
        bool was_lazy = c.was_lazy || (vm != nullptr && vm->lazy);
        const MmModel* m = before.mm(c.next_mm);
        if (!was_lazy || m == nullptr || !m->sync_core) return;
        // Without trapped CR3 writes, the announced one stands in for it.
        if (c.cr3 != 0 && !before.trapping().cr3) return;
        p = {true, e.seq, c.next_mm, m->sync_core_seq};
        return;
      }
      case Kind::kCr3Write:
      case Kind::kSyncCore:
        p.active = false;
        return;
      case Kind::kUserEnter: {
        if (!p.active) return;
        p.active = false;
        Violation v;
        v.invariant = "unlazy-without-sync-core";
        v.vcpus = {e.vcpu};
        v.mm = e.user_enter.mm;
        v.gens = {{"local_gen", e.user_enter.local_gen}, {"mm_gen", e.user_enter.mm_gen}};
        v.SetWindow(p.seq, e.seq);
        v.message = absl::StrFormat(
            "vcpu %d left lazy mode into mm %d (membarrier SYNC_CORE, registered at event %d) and "
            "returned to user mode with no CR3 write or sync_core in between",
            e.vcpu, p.mm, p.registered_seq);
        out.Report(std::move(v));
        return;
      }
      default:
        return;
    }
  }

 private:
  struct Pending {
    bool active = false;
    uint64_t seq = 0, mm = 0, registered_seq = 0;
  };
  std::vector<Pending> pending_;
};

}  // namespace

std::unique_ptr<Invariant> MakeSyncCoreInvariant() { return std::make_unique<SyncCoreInvariant>(); }

}  // namespace tlbscope::collect
