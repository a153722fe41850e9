#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/boot/elf_file.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

enum class BootProtocol { kAuto, kPvh, kMultiboot };
const char* BootProtocolName(BootProtocol p);
absl::StatusOr<BootProtocol> ParseBootProtocol(std::string_view name);

// The Multiboot v1 header as found in a file's first 8 KiB.
struct MultibootHeader {
  uint64_t file_offset;
  uint32_t flags;
  // Valid when flags bit 16 (the "a.out kludge") is set.
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
// Finds a header with a valid checksum; nullopt if none.
std::optional<MultibootHeader> FindMultibootHeader(std::span<const uint8_t> bytes);

// Where the kernel went and how to enter it: 32-bit protected mode, paging
// off, at `entry` with EAX/EBX as the protocol says.
struct LoadedKernel {
  BootProtocol protocol;
  uint32_t entry;
  uint32_t eax;
  uint32_t ebx;
  uint64_t load_start;
  uint64_t load_end;
  std::vector<ElfSymbol> symbols;
};

// Reads `path`, loads it into `mem` with `protocol` (kAuto: the PVH note if
// present, else a Multiboot header) and writes the boot information and the
// command line. Every error is InvalidArgument and names the file.
absl::StatusOr<LoadedKernel> LoadKernel(const std::string& path, BootProtocol protocol,
                                        const std::string& cmdline, GuestMemory& mem);

// Same, from bytes already in memory (`what` names them in errors).
absl::StatusOr<LoadedKernel> LoadKernelBytes(std::span<const uint8_t> bytes,
                                             const std::string& what, BootProtocol protocol,
                                             const std::string& cmdline, GuestMemory& mem);

}  // namespace tlbscope
