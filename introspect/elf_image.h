#pragma once
// Read-only view of a vmlinux ELF held in memory (libelf): its sections and
// the bytes at a kernel virtual address. RAII for the Elf handle.
#include <libelf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope::introspect {

struct ElfSection {
  std::string name;
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t address = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint64_t entsize = 0;
};

class ElfImage {
 public:
  // InvalidArgument when `bytes` is not a 64-bit ELF. `bytes` must outlive
  // the image.
  static absl::StatusOr<ElfImage> Open(std::span<const uint8_t> bytes);
  ElfImage(ElfImage&& other) noexcept;
  ElfImage& operator=(ElfImage&&) = delete;
  ~ElfImage();

  const std::vector<ElfSection>& sections() const { return sections_; }
  const ElfSection* Section(std::string_view name) const;
  // The file bytes of a section (empty for NOBITS or out of range).
  std::span<const uint8_t> Contents(const ElfSection& s) const;
  // `size` bytes at kernel virtual address `address` in an allocated
  // PROGBITS section (not the zero-based per-CPU section), or nullopt.
  std::optional<std::span<const uint8_t>> At(uint64_t address, uint64_t size) const;
  // The GNU build-id note as hex, or "" when the image has none.
  std::string BuildId() const;
  std::span<const uint8_t> bytes() const { return bytes_; }
  Elf* elf() const { return elf_; }

 private:
  ElfImage(std::span<const uint8_t> bytes, Elf* elf) : bytes_(bytes), elf_(elf) {}
  std::span<const uint8_t> bytes_;
  Elf* elf_ = nullptr;
  std::vector<ElfSection> sections_;
};

}  // namespace tlbscope::introspect
