#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/boot/elf_file.h"
#include "vmm/boot/initrd.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

// kLinux: the Linux 32-bit boot protocol of a bzImage (its own decompressor
// runs in the guest).
enum class BootProtocol { kAuto, kPvh, kMultiboot, kLinux };
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
  uint32_t esi = 0;  // kLinux: the zero page
  uint64_t load_start;
  uint64_t load_end;
  std::vector<ElfSymbol> symbols;
  // A bzImage's vmlinux, decompressed by the VMM (empty for an ELF file):
  // what the site scan and the kernel's identity use.
  std::vector<uint8_t> vmlinux;
  std::optional<InitrdPlacement> initrd;
  // The kernel's 64-bit entry as the kernel's own page tables map it (the
  // vmlinux's startup_64 virtual address); 0 when unknown.
  uint64_t entry_vaddr = 0;
  uint64_t entry_paddr = 0;
  // A bzImage, or an ELF linked in the upper half: the machine gets the
  // legacy ports Linux probes (see devices/legacy_ports.h).
  bool is_linux = false;
};

// Reads `path`, loads it into `mem` with `protocol` (kAuto: for a bzImage,
// the vmlinux inside it through its PVH note; for an ELF, the PVH note if
// present, else a Multiboot header) and writes the boot information, the
// command line and the initrd (PVH and Linux only). Every error is
// InvalidArgument and names the file.
absl::StatusOr<LoadedKernel> LoadKernel(const std::string& path, BootProtocol protocol,
                                        const std::string& cmdline, GuestMemory& mem,
                                        const InitrdFile& initrd = {});

// Same, from bytes already in memory (`what` names them in errors).
absl::StatusOr<LoadedKernel> LoadKernelBytes(std::span<const uint8_t> bytes,
                                             const std::string& what, BootProtocol protocol,
                                             const std::string& cmdline, GuestMemory& mem,
                                             const InitrdFile& initrd = {});

// The PVH load of a parsed ELF (segments, entry, start_info, initrd).
absl::StatusOr<LoadedKernel> LoadPvhElf(std::span<const uint8_t> bytes, const ElfFile& elf,
                                        const std::string& what, GuestMemory& mem,
                                        const InitrdFile& initrd);

// A bzImage (HasBzImageMagic): kAuto/kPvh extract the vmlinux and boot it
// through PVH; kLinux loads the protected-mode kernel at code32_start with
// a zero page. The command line must already be written.
absl::StatusOr<LoadedKernel> LoadBzImage(std::span<const uint8_t> bytes, const std::string& what,
                                         BootProtocol protocol, GuestMemory& mem,
                                         const InitrdFile& initrd);

}  // namespace tlbscope
