#include "introspect/probes/tracker.h"

namespace tlbscope::introspect {
namespace {

// Farther apart than this, two stack pointers are on different stacks:
// Linux's task and IRQ stacks are 16 KiB (32 KiB with KASAN).
constexpr uint64_t kSameStack = 32 * 1024;
// Returns waited for per CPU, at most: a task that sleeps inside a probed
// function and wakes on another CPU leaves its frame behind for good.
constexpr size_t kMaxFrames = 16;

}  // namespace

uint64_t CtxId(KernelState& state, uint64_t address) {
  absl::StatusOr<MmState> m = state.Mm(address);
  return m.ok() ? m->ctx_id : 0;
}

uint64_t MmCpus(KernelState& state, uint64_t mm_address) {
  absl::StatusOr<uint64_t> m = state.MmCpuMask(mm_address);
  return m.ok() ? *m : 0;
}

LinuxTracker::LinuxTracker(const KernelKnowledge& k, int num_cpus, ProbeEnv::EmitFn emit)
    : k_(k), env_(num_cpus, std::move(emit)), frames_(num_cpus) {
  probes_.push_back(MakeSwitchMmProbe());
  probes_.push_back(MakeEnterLazyTlbProbe());
  probes_.push_back(MakeFlushTlbMmRangeProbe());
  probes_.push_back(MakeFlushTlbMultiProbe());
  probes_.push_back(MakeFlushTlbFuncProbe());
  probes_.push_back(MakeTlbGatherMmuProbe());
  probes_.push_back(MakeTlbFinishMmuProbe());
  probes_.push_back(MakeShouldFlushTlbProbe());
  for (auto& p : probes_) {
    std::optional<uint64_t> a = k.symbols.Find(p->function());
    if (!a) {
      if (!p->optional()) skipped_.push_back(p->function());
      continue;
    }
    entries_.push_back({*a, p->function()});
    if (std::string(p->function()) == "should_flush_tlb") env_.kernel_answers_targets = true;
    entry_probes_.push_back(p.get());
  }
}

bool LinuxTracker::OnBreakpoint(uint32_t cpu, const ProbeRegs& regs, GuestReader& mem) {
  if (cpu >= frames_.size()) return false;
  KernelState state(k_, mem);
  std::vector<Frame>& frames = frames_[cpu];
  // Frames the stack has unwound past (their return was never seen) go;
  // a hit on another stack (an interrupt's, which Linux runs on a per-CPU
  // IRQ stack anywhere in memory) says nothing about them.
  while (!frames.empty() && frames.back().rsp_after < regs.rsp &&
         regs.rsp - frames.back().rsp_after < kSameStack) {
    frames.pop_back();
  }
  if (!frames.empty() && frames.back().return_address == regs.rip &&
      frames.back().rsp_after == regs.rsp) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    // A tail call (flush_tlb_func on a lazy CPU ends in `jmp
    // switch_mm_irqs_off`) leaves two frames on one return address and
    // stack slot: that one return ends both, the callee's first.
    while (!frames.empty() && frames.back().return_address == regs.rip &&
           frames.back().rsp_after == regs.rsp) {
      Frame f = frames.back();
      frames.pop_back();
      f.probe->OnReturn(env_, state, cpu, regs);
    }
    return true;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].address != regs.rip) continue;
    hits_.fetch_add(1, std::memory_order_relaxed);
    Probe* p = entry_probes_[i];
    if (p->wants_return()) {
      absl::StatusOr<uint64_t> ret = mem.ReadU(regs.rsp, 8);
      if (!ret.ok()) {
        env_.read_failures.fetch_add(1);
        return true;  // without its return the entry would leave a half
      }
      if (frames.size() == kMaxFrames) frames.erase(frames.begin());
      frames.push_back({*ret, regs.rsp + 8, p});
    }
    p->OnEntry(env_, state, cpu, regs);
    return true;
  }
  return false;
}

std::vector<uint64_t> LinuxTracker::ReturnAddresses(uint32_t cpu) const {
  std::vector<uint64_t> out;
  if (cpu >= frames_.size()) return out;
  for (const Frame& f : frames_[cpu]) out.push_back(f.return_address);
  return out;
}

void LinuxTracker::OnCr3Write(uint32_t cpu, uint64_t value, GuestReader& mem) {
  if (cpu >= frames_.size()) return;
  KernelState state(k_, mem);
  CpuProbeState& st = env_.cpu(cpu);
  v1::Event e;
  v1::ContextSwitch* cs = e.mutable_context_switch();
  cs->set_cr3(value);
  uint32_t pcid = value & 0xfff;
  cs->set_asid(pcid == 0 ? 0 : pcid - 1);
  cs->set_need_flush((value >> 63) == 0);
  if (st.in_switch && !st.in_switch->wrote_cr3) {
    CpuProbeState::Switch& sw = *st.in_switch;
    sw.wrote_cr3 = true;
    if (sw.prev_mm != sw.next_mm) {
      // Linux sets the CPU's bit in next's cpumask before loading CR3.
      v1::Event m;
      v1::CpumaskChange* c = m.mutable_cpumask();
      c->set_mm(sw.next_mm);
      c->set_cpu(cpu);
      c->set_set(true);
      AddCpus(c->mutable_cpus(), MmCpus(state, sw.next_addr));
      env_.Emit(cpu, std::move(m));
    }
    cs->set_prev_mm(sw.prev_mm);
    cs->set_next_mm(sw.next_mm);
    cs->set_was_lazy(sw.was_lazy);
  } else if (!st.in_flush_func.empty()) {
    CpuProbeState::FlushFunc& f = st.in_flush_func.back();
    f.reloaded = true;
    uint64_t mm = CtxId(state, f.before.loaded_mm);
    cs->set_prev_mm(mm);
    cs->set_next_mm(mm);
    cs->set_reload(true);
  } else {
    cs->set_raw(true);
  }
  env_.Emit(cpu, std::move(e));
}

}  // namespace tlbscope::introspect
