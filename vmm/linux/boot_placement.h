#pragma once

// When the Linux probes' return int3s may go into kernel text.
// start_kernel() rewrites code once at boot (alternatives, paravirt calls,
// retpolines, return thunks): an int3 placed before that trips the
// kernel's own checks (Debian's 6.1 warned "missing return thunk" at each
// `jmp __x86_return_thunk` of ours and left it unpatched). So where the
// kernel's knowledge has `system_state` and SYSTEM_SCHEDULING, the returns
// of the exits to user mode -- needed only once user space runs -- wait
// until system_state reaches it (rest_init() sets it after that patching),
// each planned again from the byte then in guest memory. Entry int3s go in
// before the run: placed later, they missed the kernel's first flushes
// (its own counters then disagreed with ours).

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "introspect/knowledge.h"
#include "vmm/boot/elf_file.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/linux/probe_plan.h"

namespace tlbscope {

// The gate of this kernel (BootGate: probe_plan.h), or nullopt when its
// knowledge lacks either fact or the symbol is in none of the vmlinux's
// loadable segments (the int3s then go in at once).
std::optional<BootGate> FindBootGate(const introspect::KernelKnowledge& k,
                                     const std::vector<ElfSegment>& loads);

// Whether the kernel has passed the gate: system_state read from guest
// memory (untrusted: any value; an unreadable one is "not yet").
bool PastBootGate(const GuestMemory& mem, const BootGate& gate);

// A return probe planned again from its first byte as it is now in guest
// memory: `ret`, or `jmp` to the return thunk (emulated alike, 1 or 5
// bytes). An error names what is there instead.
absl::Status ReplanReturnFromGuest(const GuestMemory& mem, PlannedProbe& p);

// An entry probe whose int3 the kernel's boot-time patching wrote over
// (Debian's 6.1: apply_paravirt() rewrites the `call *pv_ops...` that is
// flush_tlb_one_kernel's first instruction after the ftrace site): its
// instruction planned again from the code now at the same address (an
// emulation kept only where the new instruction allows it, else stepped).
absl::Status ReplanEntryFromGuest(const GuestMemory& mem, PlannedProbe& p);

}  // namespace tlbscope
