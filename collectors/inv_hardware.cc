// flush-without-instruction, cr3-write-unannounced.
//
// The guest's claims against what the trapped hardware events show on the
// same vCPU (docs/events.md, "Records, by operation"):
// - a context_switch with cr3 != 0 is followed by the cr3_write of exactly
//   that value; every other trapped CR3 write (after the vCPU's guest ring
//   started talking, boot sites aside) is unannounced;
// - flush_tlb_func that moved the local gen: full -> a CR3 write (or an
//   INVPCID of type 1-3) since the IPI / request; partial -> an INVLPG (or
//   INVPCID type 0) of every page of [start, end) at the request's stride;
//   lazy_left -> a CR3 write (the switch to init_mm);
// - lazy_exit{flushed} -> the switch before it wrote CR3.
// Linux relies on these instructions: tlb_gen bookkeeping without the
// instruction leaves the TLB stale while every check in software passes.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

constexpr size_t kMaxPages = 4096;

class HardwareInvariant : public Invariant {
 public:
  uint64_t Kinds() const override {
    return KindBit(Kind::kCr3Write) | KindBit(Kind::kInvlpg) | KindBit(Kind::kInvpcid) |
           KindBit(Kind::kContextSwitch) | KindBit(Kind::kLazyExit) | KindBit(Kind::kFlushFunc) |
           KindBit(Kind::kUserEnter) | KindBit(Kind::kUserExit) | KindBit(Kind::kFlushRequest) |
           KindBit(Kind::kFlushDone) | KindBit(Kind::kIpiReceived);
  }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.vcpu >= kMaxVcpus) return;
    if (e.vcpu >= vcpus_.size()) vcpus_.resize(e.vcpu + 1);
    V& s = vcpus_[e.vcpu];
    const VcpuModel* vm = before.vcpu(e.vcpu);
    bool talking = vm != nullptr && vm->guest_events;
    switch (e.kind) {
      case Kind::kCr3Write:
        OnCr3Write(e, vm, talking, out, s);
        return;
      case Kind::kInvlpg:
        AddPage(s, e.invlpg.address, e.host_ns);
        return;
      case Kind::kInvpcid:
        if (e.invpcid.faulted) return;
        if (e.invpcid.type == 0) {
          AddPage(s, e.invpcid.address, e.host_ns);
        } else {
          s.full = true;
          s.full_seq = e.seq;
          s.full_ns = e.host_ns;
        }
        return;
      case Kind::kContextSwitch:
        OnContextSwitch(e, before, vm, out, s);
        return;
      case Kind::kLazyExit:
        if (s.orphan) ReportOrphan(e, vm, out, s);
        Resolve(e, vm, out, s);
        if (e.lazy_exit.flushed && !s.last_cs_wrote && s.last_cs_seq != 0 &&
            before.trapping().cr3) {
          Report(out, "flush-without-instruction", e, vm, s.last_cs_seq,
                 absl::StrFormat("lazy_exit on vcpu %d says it flushed, the switch wrote no CR3",
                                 e.vcpu));
        }
        return;
      case Kind::kFlushFunc:
        if (s.orphan) ReportOrphan(e, vm, out, s);
        Resolve(e, vm, out, s);
        CheckFlushFunc(e, before, vm, out, s);
        Reset(s, e);
        return;
      case Kind::kUserEnter:
      case Kind::kUserExit:
      case Kind::kFlushRequest:
      case Kind::kFlushDone:
        if (s.orphan) ReportOrphan(e, vm, out, s);
        Resolve(e, vm, out, s);
        Reset(s, e);
        return;
      case Kind::kIpiReceived:
        Reset(s, e);
        return;
      default:
        return;
    }
  }

  void Finish(const StateModel& state, bool /*complete*/, ViolationSink& out) override {
    for (uint32_t v = 0; v < vcpus_.size(); ++v) {
      if (!vcpus_[v].orphan) continue;
      CEvent e;
      e.vcpu = v;
      e.seq = vcpus_[v].orphan_seq;
      e.kind = Kind::kCr3Write;
      ReportOrphan(e, state.vcpu(v), out, vcpus_[v]);
    }
  }

 private:
  struct Page {
    uint64_t address;
    int64_t ns;
  };
  struct V {
    bool orphan = false;  // a CR3 write not (yet) announced
    uint64_t orphan_cr3 = 0, orphan_seq = 0, orphan_rip = 0;
    bool cs_pending = false;
    uint64_t cs_cr3 = 0, cs_seq = 0;
    uint64_t last_cs_seq = 0;
    bool last_cs_wrote = false;
    // Flush instructions since the last delimiter (IPI, request, flush_func, user entry/exit).
    uint64_t since_seq = 0;
    bool full = false;
    uint64_t full_seq = 0;
    int64_t full_ns = 0;
    std::vector<Page> pages;
    bool overflow = false;
  };

  // A trapped CR3 write: the one its context_switch announced, or one
  // not announced (yet).
  void OnCr3Write(const CEvent& e, const VcpuModel* vm, bool talking, ViolationSink& out, V& s) {
    if (s.cs_pending) {
      s.cs_pending = false;
      s.last_cs_wrote = true;
      if (e.cr3.new_cr3 != s.cs_cr3) {
        Report(out, "cr3-write-unannounced", e, vm, s.cs_seq,
               absl::StrFormat("the context_switch announced CR3 %#x, vcpu %d wrote %#x", s.cs_cr3,
                               e.vcpu, e.cr3.new_cr3));
      }
    } else if (talking && !e.boot_site) {
      // Unannounced so far: the announcement may still come right after
      // (a guest record published later than the sequencer's hold-back).
      if (s.orphan) ReportOrphan(e, vm, out, s);
      s.orphan = true;
      s.orphan_cr3 = e.cr3.new_cr3;
      s.orphan_seq = e.seq;
      s.orphan_rip = e.rip;
    }
    if (!e.cr3.noflush) {
      s.full = true;
      s.full_seq = e.seq;
      s.full_ns = e.host_ns;
    }
  }

  void OnContextSwitch(const CEvent& e, const StateModel& before, const VcpuModel* vm,
                       ViolationSink& out, V& s) {
    if (s.orphan && e.cs.cr3 == s.orphan_cr3) {
      s.orphan = false;  // its CR3 write was sequenced just before it
      ++reordered_;
      s.last_cs_seq = e.seq;
      s.last_cs_wrote = true;
      return;
    }
    if (s.orphan) ReportOrphan(e, vm, out, s);
    Resolve(e, vm, out, s);
    s.last_cs_seq = e.seq;
    s.last_cs_wrote = false;
    if (e.cs.cr3 != 0 && before.trapping().cr3) {
      s.cs_pending = true;
      s.cs_cr3 = e.cs.cr3;
      s.cs_seq = e.seq;
    }
  }

  static void AddPage(V& s, uint64_t address, int64_t ns) {
    if (s.pages.size() >= kMaxPages) {
      s.overflow = true;
      return;
    }
    s.pages.push_back({address & ~0xfffull, ns});
  }

  // A delimiter starts a new window of evidence. Evidence stamped after it
  // stays: a guest record published late can be sequenced after the
  // trapped instructions that followed it on its vCPU.
  static void Reset(V& s, const CEvent& e) {
    s.since_seq = e.seq;
    if (s.full && s.full_ns < e.host_ns) s.full = false;
    std::erase_if(s.pages, [&](const Page& p) { return p.ns < e.host_ns; });
    if (s.pages.empty()) s.overflow = false;
  }

  void ReportOrphan(const CEvent& e, const VcpuModel* vm, ViolationSink& out, V& s) {
    s.orphan = false;
    Report(out, "cr3-write-unannounced", e, vm, s.orphan_seq,
           absl::StrFormat("vcpu %d wrote CR3 %#x (rip %#x, event %d) with no context_switch "
                           "announcing it",
                           e.vcpu, s.orphan_cr3, s.orphan_rip, s.orphan_seq));
  }

  // A context_switch whose CR3 write never came before the vCPU's next
  // semantic step.
  void Resolve(const CEvent& e, const VcpuModel* vm, ViolationSink& out, V& s) {
    if (!s.cs_pending) return;
    s.cs_pending = false;
    Report(out, "flush-without-instruction", e, vm, s.cs_seq,
           absl::StrFormat("the context_switch on vcpu %d announced CR3 %#x; no CR3 write "
                           "followed before %s",
                           e.vcpu, s.cs_cr3, KindName(e.kind)));
  }

  void CheckFlushFunc(const CEvent& e, const StateModel& before, const VcpuModel* vm,
                      ViolationSink& out, V& s) {
    const FlushFuncF& f = e.flush_func;
    if (f.not_loaded) return;
    bool moved = f.local_gen_after != f.local_gen_before;
    if (f.lazy_left || (f.full && moved)) {
      if (s.full || !before.trapping().cr3) return;
      Report(out, "flush-without-instruction", e, vm, s.since_seq ? s.since_seq : e.seq,
             absl::StrFormat("flush_tlb_func on vcpu %d claims a %s (gen %d -> %d) with no CR3 "
                             "write or INVPCID since event %d",
                             e.vcpu, f.lazy_left ? "switch to init_mm" : "full flush",
                             f.local_gen_before, f.local_gen_after, s.since_seq),
             {{"local_gen_before", f.local_gen_before}, {"local_gen_after", f.local_gen_after}});
      return;
    }
    if (!moved || s.full || s.overflow || f.end <= f.start || !before.trapping().invlpg) return;
    uint32_t stride = 12;
    if (const MmModel* m = before.mm(f.mm)) {
      for (const PendingFlush& p : m->flushes) {
        if (p.start == f.start && p.end == f.end && (p.targets & (1ull << e.vcpu))) {
          stride = p.stride_shift;
          break;
        }
      }
    }
    if (stride < 12 || stride > 40) stride = 12;
    // Pages by index, never by address: a range reaching 2^64 would wrap
    // both the rounding and the address (the loop then never ends).
    uint64_t span = f.end - f.start;
    uint64_t pages = (span >> stride) + ((span & ((1ull << stride) - 1)) != 0);
    if (pages > kMaxPages) return;
    std::vector<uint64_t> seen;
    seen.reserve(s.pages.size());
    for (const Page& p : s.pages) seen.push_back(p.address);
    std::sort(seen.begin(), seen.end());
    uint64_t missing = 0, first_missing = 0;
    for (uint64_t i = 0; i < pages; ++i) {
      uint64_t a = f.start + (i << stride);
      if (!std::binary_search(seen.begin(), seen.end(), a & ~0xfffull)) {
        if (missing++ == 0) first_missing = a;
      }
    }
    if (missing == 0) return;
    Report(out, "flush-without-instruction", e, vm, s.since_seq ? s.since_seq : e.seq,
           absl::StrFormat("flush_tlb_func on vcpu %d claims a partial flush of [%#x, %#x) "
                           "(gen %d -> %d); %d of %d pages have no INVLPG, first %#x",
                           e.vcpu, f.start, f.end, f.local_gen_before, f.local_gen_after, missing,
                           pages, first_missing),
           {{"local_gen_before", f.local_gen_before}, {"local_gen_after", f.local_gen_after}});
  }

  void Report(ViolationSink& out, const char* name, const CEvent& e, const VcpuModel* vm,
              uint64_t first, std::string message,
              std::vector<std::pair<std::string, uint64_t>> gens = {}) {
    Violation v;
    v.invariant = name;
    v.vcpus = {e.vcpu};
    v.mm = vm != nullptr ? vm->loaded_mm : 0;
    if (e.kind == Kind::kFlushFunc) v.mm = e.flush_func.mm;
    v.gens = std::move(gens);
    v.SetWindow(std::min(first, e.seq), e.seq);
    v.message = std::move(message);
    out.Report(std::move(v));
  }

  std::vector<V> vcpus_;
  uint64_t reordered_ = 0;  // announcements sequenced just after their CR3 write
};

}  // namespace

std::unique_ptr<Invariant> MakeHardwareInvariant() { return std::make_unique<HardwareInvariant>(); }

}  // namespace tlbscope::collect
