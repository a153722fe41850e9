// user-return-stale-gen, stale-read-observed.
//
// Linux: flush_tlb_mm_range() returns only after every CPU that could use
// the mm's old translations caught up (flush_tlb_func on the cpumask; lazy
// CPUs catch up in switch_mm_irqs_off before running user code). So once a
// flush of mm M to gen G has completed, no CPU may run M's user code with
// cpu_tlbstate.ctxs[asid].tlb_gen < G.
#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

class UserReturnInvariant : public Invariant {
 public:
  uint64_t Kinds() const override { return KindBit(Kind::kUserEnter) | KindBit(Kind::kStaleRead); }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.kind == Kind::kUserEnter) {
      const UserEnterF& u = e.user_enter;
      const MmModel* m = before.mm(u.mm);
      if (m == nullptr || m->completed_gen == 0 || u.local_gen >= m->completed_gen) return;
      Violation v;
      v.invariant = "user-return-stale-gen";
      v.vcpus = {e.vcpu};
      v.mm = u.mm;
      v.gens = {{"local_gen", u.local_gen},
                {"completed_gen", m->completed_gen},
                {"mm_gen", std::max(u.mm_gen, m->tlb_gen)}};
      v.SetWindow(m->completed_seq, e.seq);
      v.message = absl::StrFormat(
          "vcpu %d entered user mode in mm %d at local gen %d after the flush to gen %d "
          "completed",
          e.vcpu, u.mm, u.local_gen, m->completed_gen);
      out.Report(std::move(v));
    } else if (e.kind == Kind::kStaleRead) {
      const StaleReadF& s = e.stale;
      const MmModel* m = before.mm(s.mm);
      Violation v;
      v.invariant = "stale-read-observed";
      v.vcpus = {e.vcpu};
      v.mm = s.mm;
      uint64_t first = e.seq;
      if (m != nullptr && m->completed_gen != 0) {
        v.gens = {{"completed_gen", m->completed_gen}};
        first = m->completed_seq;
      }
      if (const VcpuModel* vc = before.vcpu(e.vcpu); vc != nullptr) {
        if (auto g = vc->LocalGen(s.mm)) v.gens.push_back({"local_gen", *g});
      }
      v.SetWindow(first, e.seq);
      v.message = absl::StrFormat("a user read of %#x returned %#x, expected %#x", s.address,
                                  s.observed, s.expected);
      out.Report(std::move(v));
    }
  }
};

}  // namespace

std::unique_ptr<Invariant> MakeUserReturnInvariant() {
  return std::make_unique<UserReturnInvariant>();
}

}  // namespace tlbscope::collect
