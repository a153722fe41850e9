#pragma once
// A load the kernel makes that a probe must see exactly: the instruction
// itself is the probe. tlb_finish_mmu's nested check (mm_tlb_flush_nested:
// mm->tlb_flush_pending > 1) reads the counter a few instructions after the
// entry, while another CPU may end its own gather and decrement it; a value
// read at the entry can differ from the kernel's. The VMM performs the load
// itself at an int3 on it, so the value the probe reports is the value the
// kernel got.
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

// `mov r32, dword ptr [base + disp]` (64-bit base register, no index, no
// segment override).
struct LoadSite {
  uint64_t address = 0;
  uint8_t length = 0;
  x86_reg dest = X86_REG_INVALID;
  x86_reg base = X86_REG_INVALID;
  int64_t disp = 0;
  std::string text;  // "mov eax, dword ptr [rax + 0x420]"
};

// The first such load of `disp` in `code`, which starts at `function` (the
// entry's breakpoint: past the ftrace site's call), before the first call,
// jump or return (the straight-line start, where the nested check is);
// nullopt when there is none.
std::optional<LoadSite> FindLoad32(std::span<const uint8_t> code, uint64_t function, int64_t disp);

// Performs the load on `regs` (the registers at the int3 on it): reads the
// 4 bytes at base + disp through the guest page walk, writes the
// destination zero-extended, steps rip past it. Returns the value loaded;
// on error nothing is changed.
absl::StatusOr<uint32_t> EmulateLoad32(const LoadSite& site, kvm_regs& regs, const GuestMemory& mem,
                                       const PagingMode& mode);

}  // namespace tlbscope
