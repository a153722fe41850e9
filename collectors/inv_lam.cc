// lam-mismatch.
//
// Linux (switch_mm_irqs_off, 6.8+): the CPU's LAM (cpu_tlbstate.lam and
// the LAM bits of CR3) is set from next->context.lam_cr3_mask on every
// switch, including a lazy CPU switching back to the same mm with nothing
// to flush: the early return when tlb_gen did not move must still update
// LAM (seed 002). A CPU must therefore never run an mm's user code, or
// leave switch_mm, with a LAM other than the mm's.
#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

class LamInvariant : public Invariant {
 public:
  uint64_t Kinds() const override {
    return KindBit(Kind::kContextSwitch) | KindBit(Kind::kUserEnter);
  }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.vcpu >= kMaxVcpus) return;
    if (e.vcpu >= last_switch_.size()) last_switch_.resize(e.vcpu + 1);
    PerVcpu& p = last_switch_[e.vcpu];
    if (e.kind == Kind::kContextSwitch && !e.cs.raw) {
      const ContextSwitchF& c = e.cs;
      p = {e.seq, false};
      const MmModel* m = before.mm(c.next_mm);
      uint64_t want = c.mm_lam;
      uint64_t since = e.seq;
      if (c.cpu_lam == want && m != nullptr && m->lam_seq != 0 && m->lam != c.cpu_lam) {
        want = m->lam;  // the switch read a stale mm LAM
        since = m->lam_seq;
      }
      if (c.cpu_lam == want) return;
      if (m != nullptr && m->lam_seq != 0 && m->lam_seq < since) since = m->lam_seq;
      p.reported = true;
      Report(e, out, c.next_mm, c.cpu_lam, want, since,
             absl::StrFormat("after %s switch to mm %d vcpu %d runs with LAM %#x, the mm's is %#x",
                             c.was_lazy ? "a lazy" : "a", c.next_mm, e.vcpu, c.cpu_lam, want));
    } else if (e.kind == Kind::kUserEnter) {
      const UserEnterF& u = e.user_enter;
      const MmModel* m = before.mm(u.mm);
      if (m == nullptr || m->lam == u.cpu_lam || p.reported) return;
      p.reported = true;
      uint64_t since = std::min(p.seq != 0 ? p.seq : e.seq, m->lam_seq != 0 ? m->lam_seq : e.seq);
      Report(e, out, u.mm, u.cpu_lam, m->lam, since,
             absl::StrFormat("vcpu %d entered user mode in mm %d with LAM %#x, the mm's is %#x",
                             e.vcpu, u.mm, u.cpu_lam, m->lam));
    }
  }

 private:
  void Report(const CEvent& e, ViolationSink& out, uint64_t mm, uint64_t cpu_lam, uint64_t mm_lam,
              uint64_t since, std::string message) {
    Violation v;
    v.invariant = "lam-mismatch";
    v.vcpus = {e.vcpu};
    v.mm = mm;
    v.gens = {{"cpu_lam", cpu_lam}, {"mm_lam", mm_lam}};
    v.SetWindow(since, e.seq);
    v.message = std::move(message);
    out.Report(std::move(v));
  }

  struct PerVcpu {
    uint64_t seq = 0;  // the last context_switch
    bool reported = false;
  };
  std::vector<PerVcpu> last_switch_;
};

}  // namespace

std::unique_ptr<Invariant> MakeLamInvariant() { return std::make_unique<LamInvariant>(); }

}  // namespace tlbscope::collect
