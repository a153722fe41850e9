#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "vmm/trap/site_scanner.h"
#include "vmm/trap/strategy.h"
#include "vmm/vcpu/tlb_counts.h"

namespace tlbscope {

// A CR3 value split the way the CPU reads it.
struct Cr3Fields {
  uint64_t root;  // bits 12..51: the top-level page table
  uint16_t pcid;  // bits 0..11 when CR4.PCIDE, else 0
  bool noflush;   // bit 63 (only meaningful with CR4.PCIDE)
  bool lam_u57;   // bit 61
  bool lam_u48;   // bit 62
};
Cr3Fields DecodeCr3(uint64_t raw, bool pcide);

// One trapped TLB instruction.
struct TrapEvent {
  TlbInsn kind = TlbInsn::kMovCr3;
  TrapStrategy strategy = TrapStrategy::kNone;
  int vcpu = 0;
  uint64_t vcpu_seq = 0;   // 0, 1, 2, ... per vCPU
  int64_t host_ns = 0;     // CLOCK_MONOTONIC
  uint64_t guest_tsc = 0;  // the guest's TSC while the VMM handled the exit; 0: unknown
  uint64_t rip = 0;
  std::string symbol;  // "tlb_write_cr3+0x0", empty when unknown
  SiteClass site_class = SiteClass::kOther;
  bool emulated = false;  // performed by the VMM rather than executed by the CPU
  // kMovCr3
  uint64_t old_cr3 = 0, new_cr3 = 0;
  bool pcide = false;
  // The new root's translation of the kernel entry (TrapEngine::SetRootProbe).
  bool entry_checked = false, entry_mapped = false;
  uint64_t entry_paddr = 0;
  // kInvlpg
  uint64_t linear = 0;
  // kInvpcid
  uint64_t invpcid_type = 0;
  uint64_t descriptor_gva = 0;
  std::array<uint8_t, 16> descriptor{};
  bool faulted = false;  // #GP(0) injected
};

// Adds one `kind` to `counts`.
void CountInsn(TlbCounts& counts, TlbInsn kind);

}  // namespace tlbscope
