#pragma once

// Where each of a LinuxTracker's entry breakpoints goes in guest memory:
// the entry plan (past the ftrace site, how to get past the instruction)
// from the function's first bytes in the vmlinux, and the physical address
// of that byte from the vmlinux's loadable segments.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "introspect/knowledge.h"
#include "introspect/probes/entry_plan.h"
#include "introspect/probes/tracker.h"
#include "vmm/linux/load_site.h"
#include "vmm/linux/sync_core_site.h"

namespace tlbscope {

struct PlannedProbe {
  std::string function;
  uint64_t function_address = 0;  // what the tracker knows the entry by
  introspect::EntryPlan plan;     // plan.address: where the int3 goes
  uint64_t paddr = 0;
  bool at_return = false;        // on a return instruction of an exit function (kEmulateRet)
  std::string Describe() const;  // "switch_mm_irqs_off: 0x...: emulate a 4-byte no-op"
};

// A load a probe wants to see as the kernel does (vmm/linux/load_site.h):
// an int3 right after it, where its destination register holds the value.
struct PlannedLoad {
  std::string function;
  uint64_t function_address = 0;
  LoadSite site;
  uint64_t paddr = 0;  // of site.after()
  // "tlb_finish_mmu+0xe: after `mov eax, dword ptr [rax + 0x420]`"
  std::string Describe() const;
};

// A serializing instruction of finish_task_switch()'s sync_core()
// (vmm/linux/sync_core_site.h): an int3 on it, the instruction stepped.
struct PlannedSyncCore {
  std::string function;  // "finish_task_switch.isra.0"
  uint64_t function_address = 0;
  SyncCoreSite site;
  uint64_t paddr = 0;
  std::string Describe() const;  // "finish_task_switch.isra.0+0x144: `serialize`"
};

// When the return int3s may go in (vmm/linux/boot_placement.h): once the
// kernel's system_state, at `paddr`, reaches `scheduling`.
struct BootGate {
  uint64_t paddr = 0;       // of system_state (the kernel image is not relocated: PVH)
  uint32_t scheduling = 0;  // SYSTEM_SCHEDULING's value
};

struct ProbePlan {
  std::vector<PlannedProbe> probes;
  std::vector<PlannedLoad> loads;
  std::vector<PlannedSyncCore> sync_cores;
  // finish_task_switch was read whole and has no serializing instruction:
  // this kernel never serializes there (a seed-004 kernel), which is what
  // the membarrier invariant judges, not a gap in what the probes see.
  bool no_sync_core_proven = false;
  std::vector<std::string> problems;  // one per entry that got no breakpoint, naming it
  std::optional<BootGate> gate;       // none: every int3 goes in before the run
};

ProbePlan PlanProbes(const introspect::LinuxTracker& tracker, const introspect::KernelKnowledge& k,
                     std::span<const uint8_t> vmlinux);

}  // namespace tlbscope
