#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope {

// What the loaders need from an ELF file, read with libelf.
struct ElfSegment {
  uint64_t paddr;
  uint64_t vaddr;
  uint64_t offset;
  uint64_t filesz;
  uint64_t memsz;
};

struct ElfSymbol {
  std::string name;
  uint64_t value;
  uint64_t size;
  bool is_function;
};

struct ElfSection {
  std::string name;
  uint64_t addr;
  uint64_t offset;
  uint64_t size;
  bool executable;  // SHF_EXECINSTR
  bool has_bits;    // not SHT_NOBITS
};

struct ElfFile {
  bool is_64bit;
  uint16_t machine;
  uint64_t entry;
  std::vector<ElfSegment> loads;       // PT_LOAD with filesz or memsz > 0
  std::optional<uint64_t> pvh_entry;   // XEN_ELFNOTE_PHYS32_ENTRY
  std::string build_id;                // hex of NT_GNU_BUILD_ID, empty if none
  std::vector<ElfSymbol> symbols;      // .symtab, empty when stripped
  std::vector<ElfSection> sections;    // empty without section headers
  std::vector<ElfSegment> exec_loads;  // PT_LOAD with PF_X
};

inline bool HasElfMagic(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' &&
         bytes[3] == 'F';
}

// Where the byte at virtual address `vaddr` of the file's loaded image
// lands in guest physical memory (a PT_LOAD's file-backed part; the last
// such segment if they overlap), or nullopt when no segment loads it.
std::optional<uint64_t> LoadedPhysical(const std::vector<ElfSegment>& loads, uint64_t vaddr);

// Parses `bytes` (the whole file). Errors are InvalidArgument and name `what`
// (normally the path) and what is wrong: truncated, corrupt, wrong machine.
absl::StatusOr<ElfFile> ParseElf(std::span<const uint8_t> bytes, const std::string& what);

}  // namespace tlbscope
