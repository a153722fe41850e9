#pragma once
// A load the kernel makes that a probe must see exactly. tlb_finish_mmu's
// nested check (mm_tlb_flush_nested: mm->tlb_flush_pending > 1) reads the
// counter a few instructions after the entry, while another CPU may end its
// own gather and decrement it; a value read at the entry can differ from
// the kernel's. An int3 on the instruction right after the load sees the
// value in the load's destination register: what the kernel got. (The VMM
// does not perform the load itself: that form ended smp-4 runs in a guest
// triple fault, cause not found; the register read changes nothing in the
// guest.)
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

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
  std::string text;                                    // "mov eax, dword ptr [rax + 0x420]"
  uint64_t after() const { return address + length; }  // where the int3 goes
};

// The first such load of `disp` in `code`, which starts at `function` (the
// entry's breakpoint: past the ftrace site's call), before the first call,
// jump or return (the straight-line start, where the nested check is);
// nullopt when there is none.
std::optional<LoadSite> FindLoad32(std::span<const uint8_t> code, uint64_t function, int64_t disp);

// The value loaded: the destination register in `regs`, the registers at
// the int3 right after the load (site.after()).
std::optional<uint32_t> LoadedValue(const LoadSite& site, const kvm_regs& regs);

}  // namespace tlbscope
