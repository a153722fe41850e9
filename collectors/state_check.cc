#include "collectors/state_check.h"

#include "absl/strings/str_format.h"

namespace tlbscope::collect {

void StateCheck::Observe(const CEvent& e, const StateModel& before) {
  if (e.kind != Kind::kUserEnter) return;
  const UserEnterF& u = e.user_enter;
  const VcpuModel* v = before.vcpu(e.vcpu);
  if (v == nullptr || u.mm == 0) return;
  ++checks;
  std::string what;
  // Until an event carries the mm's gen, the model's are guesses
  // (MmModel::gen_seen): this user_enter sets them.
  const MmModel* m = before.mm(u.mm);
  const bool gens_known = m != nullptr && m->gen_seen;
  if (v->loaded_mm != u.mm) {
    what = absl::StrFormat("the model has mm %d loaded", v->loaded_mm);
  } else if (std::optional<uint64_t> g = v->LocalGen(u.mm);
             gens_known && !v->slot_unconfirmed && g && *g != u.local_gen) {
    what = absl::StrFormat("the model's local gen is %d, the guest's %d", *g, u.local_gen);
  } else if (gens_known && m->tlb_gen > u.mm_gen) {
    what =
        absl::StrFormat("the model's mm gen %d is ahead of the guest's %d", m->tlb_gen, u.mm_gen);
  }
  if (what.empty()) return;
  if (++mismatches == 1) {
    first_mismatch = absl::StrFormat("event %d, vcpu %d returning to user mode in mm %d: %s", e.seq,
                                     e.vcpu, u.mm, what);
  }
}

}  // namespace tlbscope::collect
