#pragma once
// KernelLayout from DWARF (elfutils libdw), for a vmlinux without BTF.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "introspect/elf_image.h"
#include "introspect/layout.h"

namespace tlbscope::introspect {

// NotFound when the image has no DWARF; missing members go in `missing`.
// Per-CPU offsets are left to the symbols (System.map/.symtab/kallsyms).
absl::StatusOr<KernelLayout> LayoutFromDwarf(const ElfImage& image,
                                             std::vector<std::string>* missing);

}  // namespace tlbscope::introspect
