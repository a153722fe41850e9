#pragma once

// When the Linux probes' int3s may go into kernel text. start_kernel()
// rewrites code once at boot (alternatives, paravirt calls, retpolines,
// return thunks): an int3 placed before that is overwritten (the probe is
// lost, and putting its saved byte back would corrupt the new code) or
// trips the kernel's own checks (Debian's 6.1 warned "missing return
// thunk" at every `jmp __x86_return_thunk` of ours). So where the kernel's
// knowledge has `system_state` and SYSTEM_SCHEDULING, the int3s wait until
// system_state reaches it -- rest_init() sets it after that patching --
// and each probe is planned again from the bytes then in guest memory.

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "introspect/knowledge.h"
#include "vmm/boot/elf_file.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/linux/probe_plan.h"

namespace tlbscope {

struct BootGate {
  uint64_t paddr = 0;       // of system_state (the kernel image is not relocated: PVH)
  uint32_t scheduling = 0;  // SYSTEM_SCHEDULING's value
};

// The gate of this kernel, or nullopt when its knowledge lacks either fact
// or the symbol is in no loadable segment (the int3s then go in at once).
std::optional<BootGate> FindBootGate(const introspect::KernelKnowledge& k,
                                     std::span<const uint8_t> vmlinux);

// Whether the kernel has passed the gate: system_state read from guest
// memory (untrusted: any value; an unreadable one is "not yet").
bool PastBootGate(const GuestMemory& mem, const BootGate& gate);

// The probe planned again from the kernel's code as it is now in guest
// memory: an entry's plan from its function's first bytes (the planned
// address must not move), a return's length from its first byte (`ret`,
// or `jmp` to the return thunk). An error names what changed.
absl::Status ReplanFromGuest(const GuestMemory& mem, std::optional<uint64_t> fentry,
                             PlannedProbe& p);

}  // namespace tlbscope
