#pragma once

// The TLB instructions a kernel's alternatives write into its text at boot.
// A CR3 write of .altinstr_replacement never runs where it is linked:
// apply_alternatives() copies it over the original code when the CPU has
// (or lacks) the feature its entry names -- Debian's 6.1 turns every
// paravirt write_cr3() call into an inline `mov %rdi,%cr3` that way. Each
// such site is mapped, through the .altinstructions entries (struct
// alt_instr, its layout from the kernel's BTF or DWARF) whose replacement
// holds it, to the address where it would run. The trap engine puts an
// int3 there once the boot's patching is done, where the bytes then in
// guest memory are that instruction (TrapEngine::AddDeferredSites).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "introspect/layout.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

struct AltSitePlan {
  // At the original code's addresses (paddr set), one per address and
  // instruction; the bytes are the replacement's.
  std::vector<TlbSite> sites;
  std::vector<std::string> problems;  // a site or entry that could not be mapped, one line each
};

// `replacement_sites`: the scanned sites of .altinstr_replacement. An
// error names what the kernel lacks (no .altinstructions, no alt_instr
// layout) or what is wrong with it.
absl::StatusOr<AltSitePlan> PlanAlternativeSites(std::span<const uint8_t> vmlinux,
                                                 const introspect::KernelLayout& layout,
                                                 const std::vector<TlbSite>& replacement_sites);

}  // namespace tlbscope
