#pragma once
// Everything tlbscope knows about one Linux kernel: symbols, struct layouts
// and per-CPU offsets, read from the kernel's own debug data. Independent of
// the VMM: give it the vmlinux ELF bytes (a bzImage's payload is fine).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "introspect/layout.h"
#include "introspect/symbols.h"

namespace tlbscope::introspect {

struct KnowledgeSources {
  std::string system_map;  // path, or "" for none
  std::string btf_file;    // a detached raw BTF file, or "" for none
};

// Functions the probes break on, and data symbols they read.
struct KernelAddresses {
  std::optional<uint64_t> switch_mm_irqs_off, enter_lazy_tlb, flush_tlb_mm_range, flush_tlb_func,
      native_flush_tlb_multi, tlb_gather_mmu, tlb_finish_mmu, tlb_remove_table, per_cpu_offset,
      membarrier_register;
};

// The probes' functions and data in `symbols` (those it lacks stay empty).
KernelAddresses FindAddresses(const KernelSymbols& symbols);

struct KernelKnowledge {
  std::string build_id;  // GNU build-id, hex ("" if none)
  std::string banner;    // "Linux version ..." as in the image
  KernelSymbols symbols;
  KernelLayout layout;
  KernelAddresses addresses;
  // What could not be found, each naming the fact ("BTF/DWARF",
  // "tlb_state.loaded_mm", "symbol flush_tlb_func"); empty = complete.
  std::vector<std::string> missing;
  bool complete() const { return missing.empty(); }
  // One line for the user: "kernel knowledge: missing X, Y (from ...)".
  std::string Summary() const;
};

// Reads the kernel. Only a file that cannot be read, or input that is not
// an ELF, is an error; missing facts go in `missing`.
absl::StatusOr<KernelKnowledge> LoadKernelKnowledge(std::span<const uint8_t> vmlinux,
                                                    const KnowledgeSources& sources);

}  // namespace tlbscope::introspect
