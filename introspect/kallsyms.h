#pragma once
// Decodes the kernel's own symbol table (CONFIG_KALLSYMS, scripts/kallsyms.c)
// from a vmlinux that has no .symtab, such as the one inside a bzImage.
// The tables are found without their own symbols, as vmlinux-to-elf does:
// the token table by its run of one-character digit tokens ("0".."9" at
// indexes 0x30..0x39), the token index as the offsets of those 256 strings,
// the markers before the token table, kallsyms_num_syms and the names before
// them, and the offsets and relative base in either order Linux has used
// (before num_syms up to 6.3, after the token index since). The result is
// accepted only if its linux_banner points at the image's "Linux version".
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "introspect/symbols.h"

namespace tlbscope::introspect {

// NotFound naming the table that could not be located or checked.
absl::StatusOr<KernelSymbols> SymbolsFromKallsyms(std::span<const uint8_t> elf);

}  // namespace tlbscope::introspect
