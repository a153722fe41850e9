#pragma once
// LinuxTracker: the probes of one Linux kernel, driven by the VMM. The VMM
// puts a breakpoint on every EntryAddresses() and, after an entry hit, on
// ReturnAddresses(cpu); it calls OnBreakpoint for each hit and OnCr3Write
// just before it appends a trapped CR3 write, so that the events land in the
// vCPU's own order: context_switch right before its cr3_write, flush_func
// after the INVLPGs or the CR3 reload it made (docs/events.md).
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "introspect/knowledge.h"
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {

class LinuxTracker {
 public:
  // `k` must be complete and outlive the tracker.
  LinuxTracker(const KernelKnowledge& k, int num_cpus, ProbeEnv::EmitFn emit);

  struct Entry {
    uint64_t address;
    const char* function;
  };
  const std::vector<Entry>& entries() const { return entries_; }
  // Functions probed at their returns (Probe::at_returns): the VMM puts a
  // breakpoint on each of their return instructions and calls OnExitSite.
  const std::vector<Entry>& exit_functions() const { return exits_; }
  // A return instruction of exit function `function` reached on `cpu`.
  bool OnExitSite(uint32_t cpu, uint64_t function, const ProbeRegs& regs, GuestReader& mem);
  // Loads a probe wants to see as the kernel does (Probe::load_disp), by
  // the function they are in.
  struct LoadWant {
    uint64_t function;
    const char* name;
    int64_t disp;
  };
  const std::vector<LoadWant>& load_wants() const { return load_wants_; }
  // The VMM performed such a load on `cpu` (rsp there) and got `value`.
  // False when no call of that function is in flight on that stack.
  bool OnLoad(uint32_t cpu, uint64_t function, uint64_t rsp, uint64_t value);
  // Functions without a symbol in this kernel (their events are not made).
  const std::vector<std::string>& skipped() const { return skipped_; }

  // A breakpoint at regs.rip on `cpu`: a probe's entry or a pending return.
  // False when neither (not this tracker's breakpoint).
  bool OnBreakpoint(uint32_t cpu, const ProbeRegs& regs, GuestReader& mem);
  // Return addresses the probed calls in flight wait for, on any CPU (a
  // task may return on another CPU than it entered on), oldest first.
  std::vector<uint64_t> ReturnAddresses() const;
  // `cpu` is about to execute a serializing instruction of the kernel's
  // sync_core() where finish_task_switch() serializes the core for a
  // membarrier SYNC_CORE mm (the VMM finds those instructions): sync_core.
  void OnSyncCore(uint32_t cpu, GuestReader& mem);
  // Before the trapped write of `value` to CR3 on `cpu`.
  void OnCr3Write(uint32_t cpu, uint64_t value, GuestReader& mem);

  uint64_t read_failures() const { return env_.read_failures.load(); }
  uint64_t hits() const { return hits_.load(); }

 private:
  // A probed call in flight. It belongs to the task whose kernel stack
  // holds its return address, wherever that task runs next.
  struct Frame {
    uint64_t return_address;
    uint64_t rsp_after;  // rsp once the function has returned
    Probe* probe;
    uint32_t cpu;  // where it was entered
    FrameData data;
  };
  bool SameStack(const Frame& f, uint32_t cpu, uint64_t rsp) const;
  void DropUnwound(uint32_t cpu, uint64_t rsp);
  Frame* CallerFrame(uint32_t cpu, uint64_t rsp);
  FrameData* CallerOf(uint32_t cpu, uint64_t rsp);
  bool Returned(uint32_t cpu, const ProbeRegs& regs, KernelState& state);
  const KernelKnowledge& k_;
  ProbeEnv env_;
  std::vector<std::unique_ptr<Probe>> probes_;
  std::vector<Entry> entries_;
  std::vector<Probe*> entry_probes_;  // parallel to entries_
  std::vector<Entry> exits_;
  std::vector<Probe*> exit_probes_;  // parallel to exits_
  std::vector<LoadWant> load_wants_;
  std::vector<std::string> skipped_;
  // THREAD_SIZE (kernel stacks are this big and aligned to it), from the
  // symbols around init_stack; 0 = unknown.
  uint64_t thread_size_ = 0;
  uint32_t num_cpus_;
  size_t max_frames_;
  mutable std::mutex mu_;    // every breakpoint and CR3 write, one at a time
  std::list<Frame> frames_;  // oldest first; a list: FrameData* stay valid
  std::atomic<uint64_t> hits_{0};
};

}  // namespace tlbscope::introspect
