#pragma once
// A kernel's symbol table (name -> address), from whichever source the
// kernel has: its vmlinux's ELF .symtab (libelf), a System.map, or the
// image's own kallsyms table (kallsyms.h). Per-CPU variables keep their
// zero-based offsets as addresses, as all three sources give them.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope::introspect {

class KernelSymbols {
 public:
  // The first definition of a name wins (static functions can repeat).
  void Add(std::string name, uint64_t address);
  std::optional<uint64_t> Find(std::string_view name) const;
  // `name`, else a compiler's local copy of it ("name.isra.0",
  // "name.constprop.0": the lowest such address), with the name found.
  std::optional<std::pair<std::string, uint64_t>> FindFunction(std::string_view name) const;
  // The address of the next symbol above `address` (where a function ends,
  // at most), if any.
  std::optional<uint64_t> NextAbove(uint64_t address) const;
  void Reserve(size_t n) { by_name_.reserve(n); }
  // The symbol at or below `address` ("name+0x12"), or "" if none.
  std::string NameAt(uint64_t address) const;
  size_t size() const { return by_name_.size(); }
  // Every (name, address), in an order whose Add()s rebuild this table
  // exactly: each address's name first, then the other names.
  std::vector<std::pair<std::string, uint64_t>> Entries() const;
  // Where the symbols came from: "symtab", "System.map FILE", "kallsyms".
  const std::string& source() const { return source_; }
  void set_source(std::string s) { source_ = std::move(s); }

 private:
  std::unordered_map<std::string, uint64_t> by_name_;
  std::map<uint64_t, std::string> by_address_;
  std::string source_;
};

// The function and object symbols of an ELF's .symtab. NotFound when the
// ELF has no .symtab (a stripped vmlinux, a bzImage payload); InvalidArgument
// when `bytes` is not an ELF.
absl::StatusOr<KernelSymbols> SymbolsFromElfSymtab(std::span<const uint8_t> elf);

// Lines "ADDRESS TYPE NAME" (nm's output, as System.map is). A line that
// does not parse is InvalidArgument naming the file and line.
absl::StatusOr<KernelSymbols> SymbolsFromSystemMap(std::string_view text, const std::string& what);

// Checks that `map` belongs to the kernel `elf`: its `linux_banner` must
// point at the "Linux version" string in the image, and its `_text` at the
// lowest executable section address. FailedPrecondition names the symbol
// that disagrees.
absl::Status CheckSymbolsMatchElf(const KernelSymbols& map, std::span<const uint8_t> elf);

}  // namespace tlbscope::introspect
