#include "introspect/probes/tracker.h"

#include <algorithm>

namespace tlbscope::introspect {
namespace {

// Without THREAD_SIZE: farther apart than this, two stack pointers of one
// CPU are on different stacks (16 KiB, 32 KiB with KASAN).
constexpr uint64_t kNearStack = 32 * 1024;
// Probed calls in flight, at most, per CPU: a task that never returns
// (killed inside a probed call) leaves its frame behind for good.
constexpr size_t kMaxFramesPerCpu = 16;

// THREAD_SIZE from the linker's init_stack bounds (INIT_TASK_DATA puts
// __end_init_stack THREAD_SIZE after __start_init_stack); 0 if unknown.
uint64_t ThreadSize(const KernelSymbols& s) {
  std::optional<uint64_t> lo = s.Find("__start_init_stack"), hi = s.Find("__end_init_stack");
  if (!lo || !hi || *hi <= *lo) return 0;
  uint64_t size = *hi - *lo;
  return (size & (size - 1)) == 0 ? size : 0;
}

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
    : k_(k),
      env_(num_cpus, std::move(emit)),
      thread_size_(ThreadSize(k.symbols)),
      num_cpus_(static_cast<uint32_t>(num_cpus)),
      max_frames_(kMaxFramesPerCpu * num_cpus) {
  env_.boot_percpu_base = k.symbols.Find("__per_cpu_load").value_or(0);
  probes_.push_back(MakeSwitchMmProbe());
  probes_.push_back(MakeEnterLazyTlbProbe());
  probes_.push_back(MakeFlushTlbMmRangeProbe());
  probes_.push_back(MakeFlushTlbMultiProbe());
  probes_.push_back(MakeFlushTlbFuncProbe());
  probes_.push_back(MakeTlbGatherMmuProbe());
  probes_.push_back(MakeTlbFinishMmuProbe());
  probes_.push_back(MakeShouldFlushTlbProbe());
  probes_.push_back(MakeCondMaskProbe());
  for (std::unique_ptr<Probe>& p : MakeKernelFlushProbes()) probes_.push_back(std::move(p));
  for (std::unique_ptr<Probe>& p : MakeTableFreeProbes()) probes_.push_back(std::move(p));
  for (std::unique_ptr<Probe>& p : MakePageFreeProbes()) probes_.push_back(std::move(p));
  probes_.push_back(MakeMembarrierRegisterProbe());
  probes_.push_back(MakeArchPrctlProbe());
  for (std::unique_ptr<Probe>& p : MakeUserReturnProbes()) probes_.push_back(std::move(p));
  for (auto& p : probes_) {
    if (!p->needed(k.layout)) continue;
    std::optional<uint64_t> a = k.symbols.Find(p->function());
    if (!a) {
      if (!p->optional()) skipped_.push_back(p->function());
      continue;
    }
    if (p->at_returns()) {
      exits_.push_back({*a, p->function()});
      exit_probes_.push_back(p.get());
      continue;
    }
    entries_.push_back({*a, p->function()});
    if (std::optional<int64_t> d = p->load_disp(k.layout)) {
      load_wants_.push_back({*a, p->function(), *d});
    }
    if (p->answers_flush_targets()) env_.kernel_answers_targets = true;
    if (p->shows_flush_condition()) env_.kernel_shows_condition = true;
    entry_probes_.push_back(p.get());
  }
}

bool LinuxTracker::SameStack(const Frame& f, uint32_t cpu, uint64_t rsp) const {
  const uint64_t slot = f.rsp_after - 8;  // where its return address is
  if (thread_size_ != 0) return slot / thread_size_ == rsp / thread_size_;
  if (f.cpu != cpu) return false;
  return (slot > rsp ? slot - rsp : rsp - slot) < kNearStack;
}

// Frames the task's stack has unwound past (their return was never seen)
// go. A hit on another stack (another task's, or an interrupt's on the
// per-CPU IRQ stack) says nothing about them.
void LinuxTracker::DropUnwound(uint32_t cpu, uint64_t rsp) {
  std::erase_if(frames_,
                [&](const Frame& f) { return f.rsp_after < rsp && SameStack(f, cpu, rsp); });
}

// The innermost probed call in flight around `rsp` on its stack.
LinuxTracker::Frame* LinuxTracker::CallerFrame(uint32_t cpu, uint64_t rsp) {
  Frame* best = nullptr;
  for (Frame& f : frames_) {
    if (f.rsp_after <= rsp || !SameStack(f, cpu, rsp)) continue;
    if (best == nullptr || f.rsp_after < best->rsp_after) best = &f;
  }
  return best;
}

FrameData* LinuxTracker::CallerOf(uint32_t cpu, uint64_t rsp) {
  Frame* f = CallerFrame(cpu, rsp);
  return f != nullptr ? &f->data : nullptr;
}

bool LinuxTracker::OnLoad(uint32_t cpu, uint64_t function, uint64_t rsp, uint64_t value) {
  if (cpu >= num_cpus_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  Frame* f = CallerFrame(cpu, rsp);
  if (f == nullptr) return false;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].address != function || entry_probes_[i] != f->probe) continue;
    hits_.fetch_add(1, std::memory_order_relaxed);
    CpuProbeState& st = env_.cpu(cpu);
    st.frame = &f->data;
    f->probe->OnLoad(env_, cpu, value);
    st.frame = nullptr;
    return true;
  }
  return false;
}

// A return breakpoint: every frame waiting for exactly this return address
// and stack slot ends, the innermost first. There are two after a tail call
// (flush_tlb_func on a lazy CPU ends in `jmp switch_mm_irqs_off`). The frame
// may have been entered on another CPU: the task slept inside the call.
// False when no frame waits for it.
bool LinuxTracker::Returned(uint32_t cpu, const ProbeRegs& regs, KernelState& state) {
  CpuProbeState& st = env_.cpu(cpu);
  for (bool any = false;; any = true) {
    auto it = std::find_if(frames_.rbegin(), frames_.rend(), [&](const Frame& f) {
      return f.return_address == regs.rip && f.rsp_after == regs.rsp;
    });
    if (it == frames_.rend()) return any;
    Frame f = std::move(*it);
    frames_.erase(std::next(it).base());
    st.frame = &f.data;
    st.caller = CallerOf(cpu, regs.rsp);
    f.probe->OnReturn(env_, state, cpu, regs);
    st.frame = st.caller = nullptr;
  }
}

bool LinuxTracker::OnBreakpoint(uint32_t cpu, const ProbeRegs& regs, GuestReader& mem) {
  if (cpu >= num_cpus_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  KernelState state(k_, mem);
  DropUnwound(cpu, regs.rsp);
  if (Returned(cpu, regs, state)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].address != regs.rip) continue;
    hits_.fetch_add(1, std::memory_order_relaxed);
    Probe* p = entry_probes_[i];
    CpuProbeState& st = env_.cpu(cpu);
    if (p->wants_return()) {
      absl::StatusOr<uint64_t> ret = mem.ReadU(regs.rsp, 8);
      if (!ret.ok()) {
        env_.read_failures.fetch_add(1);
        return true;  // without its return the entry would leave a half
      }
      if (frames_.size() >= max_frames_) frames_.pop_front();
      st.caller = CallerOf(cpu, regs.rsp);  // before this call's own frame
      frames_.push_back({*ret, regs.rsp + 8, p, cpu, {}});
      st.frame = &frames_.back().data;
    } else {
      st.caller = CallerOf(cpu, regs.rsp);
    }
    p->OnEntry(env_, state, cpu, regs);
    st.frame = st.caller = nullptr;
    return true;
  }
  return false;
}

std::vector<uint64_t> LinuxTracker::ReturnAddresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (const Frame& f : frames_) out.push_back(f.return_address);
  return out;
}

bool LinuxTracker::OnExitSite(uint32_t cpu, uint64_t function, const ProbeRegs& regs,
                              GuestReader& mem) {
  if (cpu >= num_cpus_) return false;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < exits_.size(); ++i) {
    if (exits_[i].address != function) continue;
    hits_.fetch_add(1, std::memory_order_relaxed);
    KernelState state(k_, mem);
    exit_probes_[i]->OnReturn(env_, state, cpu, regs);
    return true;
  }
  return false;
}

void LinuxTracker::OnSyncCore(uint32_t cpu, GuestReader& mem) {
  if (cpu >= num_cpus_) return;
  std::lock_guard<std::mutex> lock(mu_);
  hits_.fetch_add(1, std::memory_order_relaxed);
  KernelState state(k_, mem);
  absl::StatusOr<CpuTlbState> s = state.Cpu(cpu);
  if (!s.ok()) {
    env_.read_failures.fetch_add(1);
    return;
  }
  v1::Event e;
  v1::SyncCore* sc = e.mutable_sync_core();
  sc->set_mm(CtxId(state, s->loaded_mm));
  sc->set_reason(1);  // unlazy into a SYNC_CORE mm: the only site probed
  env_.Emit(cpu, std::move(e));
}

void LinuxTracker::OnCr3Write(uint32_t cpu, uint64_t value, GuestReader& mem) {
  if (cpu >= num_cpus_) return;
  std::lock_guard<std::mutex> lock(mu_);
  KernelState state(k_, mem);
  CpuProbeState& st = env_.cpu(cpu);
  v1::Event e;
  v1::ContextSwitch* cs = e.mutable_context_switch();
  cs->set_cr3(value);
  uint32_t pcid = value & 0xfff;
  cs->set_asid(pcid == 0 ? 0 : pcid - 1);
  cs->set_need_flush((value >> 63) == 0);
  cs->set_cpu_lam(value & kCr3LamBits);
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
    cs->set_mm_lam(SeeMmLam(env_, state, cpu, sw.next_addr));
  } else if (!st.in_flush_func.empty()) {
    CpuProbeState::FlushFunc& f = st.in_flush_func.back();
    f.reloaded = true;
    uint64_t mm = CtxId(state, f.before.loaded_mm);
    cs->set_prev_mm(mm);
    cs->set_next_mm(mm);
    cs->set_reload(true);
    cs->set_mm_lam(SeeMmLam(env_, state, cpu, f.before.loaded_mm));
  } else {
    cs->set_raw(true);
  }
  env_.Emit(cpu, std::move(e));
}

}  // namespace tlbscope::introspect
