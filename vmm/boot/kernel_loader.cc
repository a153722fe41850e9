#include "vmm/boot/kernel_loader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_bytes.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;
constexpr uint32_t kMbAoutKludge = 1u << 16;
// Bits 0 (align modules), 1 (memory info) we honour; 2 (video) we cannot.
constexpr uint32_t kMbSupportedRequired = 0x3;

absl::Status Bad(const std::string& what, std::string_view detail) {
  return absl::InvalidArgumentError(absl::StrFormat("kernel %s: %s", what, detail));
}

// A load must land in RAM and keep clear of what the VMM writes below 1 MiB.
absl::Status CheckPlacement(const std::string& what, const GuestMemory& mem, uint64_t start,
                            uint64_t size, std::string_view name) {
  if (size == 0) return absl::OkStatus();
  if (start + size < start || !mem.Contains(start, size)) {
    return Bad(what, absl::StrFormat("%s [%#x, %#x) is outside guest memory (%u MiB); raise --mem",
                                     name, start, start + size, mem.size() >> 20));
  }
  if (start < layout::kBootDataEnd ||
      (start < layout::kHighMemory && start + size > layout::kEbda)) {
    return Bad(what, absl::StrFormat("%s [%#x, %#x) overlaps the boot data or BIOS area below "
                                     "1 MiB",
                                     name, start, start + size));
  }
  return absl::OkStatus();
}

absl::Status LoadElfSegments(const std::string& what, std::span<const uint8_t> bytes,
                             const ElfFile& elf, GuestMemory& mem, LoadedKernel& out) {
  if (elf.loads.empty()) return Bad(what, "ELF has no loadable segments");
  out.load_start = UINT64_MAX;
  out.load_end = 0;
  for (size_t i = 0; i < elf.loads.size(); ++i) {
    const ElfSegment& seg = elf.loads[i];
    absl::Status s =
        CheckPlacement(what, mem, seg.paddr, seg.memsz, absl::StrFormat("segment %d", i));
    if (!s.ok()) return s;
    s = mem.Write(seg.paddr, bytes.subspan(seg.offset, seg.filesz));
    if (s.ok()) s = mem.Fill(seg.paddr + seg.filesz, seg.memsz - seg.filesz, 0);
    if (!s.ok()) return s;
    out.load_start = std::min(out.load_start, seg.paddr);
    out.load_end = std::max(out.load_end, seg.paddr + seg.memsz);
  }
  return absl::OkStatus();
}

absl::Status LoadAoutKludge(const std::string& what, std::span<const uint8_t> bytes,
                            const MultibootHeader& h, GuestMemory& mem, LoadedKernel& out) {
  if (h.header_addr < h.load_addr || h.header_addr - h.load_addr > h.file_offset) {
    return Bad(what,
               "Multiboot header addresses are inconsistent (header_addr < load_addr or "
               "before the file start)");
  }
  uint64_t file_start = h.file_offset - (h.header_addr - h.load_addr);
  uint64_t load_end = h.load_end_addr ? h.load_end_addr : h.load_addr + (bytes.size() - file_start);
  if (load_end < h.load_addr) return Bad(what, "Multiboot load_end_addr is below load_addr");
  uint64_t file_bytes = load_end - h.load_addr;
  if (file_start + file_bytes > bytes.size()) {
    return Bad(what, absl::StrFormat("truncated: Multiboot header asks for %#x bytes from file "
                                     "offset %#x but the file is %#x bytes long",
                                     file_bytes, file_start, bytes.size()));
  }
  uint64_t bss_end = std::max<uint64_t>(h.bss_end_addr, load_end);
  absl::Status s = CheckPlacement(what, mem, h.load_addr, bss_end - h.load_addr, "Multiboot image");
  if (!s.ok()) return s;
  s = mem.Write(h.load_addr, bytes.subspan(file_start, file_bytes));
  if (s.ok()) s = mem.Fill(load_end, bss_end - load_end, 0);
  out.load_start = h.load_addr;
  out.load_end = bss_end;
  return s;
}

absl::Status CheckEntry(const std::string& what, const GuestMemory& mem, uint64_t entry,
                        const LoadedKernel& out) {
  if (entry > UINT32_MAX || !mem.Contains(entry, 1) || entry < out.load_start ||
      entry >= out.load_end) {
    return Bad(what, absl::StrFormat("no usable entry: entry point %#x is not inside the loaded "
                                     "image [%#x, %#x)",
                                     entry, out.load_start, out.load_end));
  }
  return absl::OkStatus();
}

}  // namespace

const char* BootProtocolName(BootProtocol p) {
  switch (p) {
    case BootProtocol::kAuto:
      return "auto";
    case BootProtocol::kPvh:
      return "pvh";
    case BootProtocol::kMultiboot:
      return "multiboot";
    case BootProtocol::kLinux:
      return "linux";
  }
  return "?";
}

absl::StatusOr<BootProtocol> ParseBootProtocol(std::string_view name) {
  if (name == "auto") return BootProtocol::kAuto;
  if (name == "pvh") return BootProtocol::kPvh;
  if (name == "multiboot") return BootProtocol::kMultiboot;
  if (name == "linux") return BootProtocol::kLinux;
  return absl::InvalidArgumentError(
      absl::StrFormat("--boot must be auto, pvh, multiboot or linux (got '%s')", name));
}

absl::StatusOr<LoadedKernel> LoadKernel(const std::string& path, BootProtocol protocol,
                                        const std::string& cmdline, GuestMemory& mem,
                                        const InitrdFile& initrd) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(path, "kernel");
  if (!bytes.ok()) return bytes.status();
  return LoadKernelBytes(*bytes, path, protocol, cmdline, mem, initrd);
}

absl::StatusOr<LoadedKernel> LoadPvhElf(std::span<const uint8_t> bytes, const ElfFile& elf,
                                        const std::string& what, GuestMemory& mem,
                                        const InitrdFile& initrd) {
  LoadedKernel out{};
  out.protocol = BootProtocol::kPvh;
  out.symbols = elf.symbols;
  if (!elf.pvh_entry) {
    return Bad(what, "no usable entry: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
  }
  absl::Status s = LoadElfSegments(what, bytes, elf, mem, out);
  if (s.ok()) s = CheckEntry(what, mem, *elf.pvh_entry, out);
  if (!s.ok()) return s;
  if (!initrd.bytes.empty()) {
    absl::StatusOr<InitrdPlacement> p = PlaceInitrd(mem, initrd, out.load_end, UINT32_MAX);
    if (!p.ok()) return p.status();
    out.initrd = *p;
  }
  if (s = WritePvhStartInfo(mem, out.initrd); !s.ok()) return s;
  out.entry = static_cast<uint32_t>(*elf.pvh_entry);
  out.eax = 0;
  out.ebx = static_cast<uint32_t>(layout::kBootInfo);
  // The ELF entry (Linux: phys_startup_64) and its virtual alias.
  for (const ElfSegment& seg : elf.loads) {
    if (elf.entry >= seg.paddr && elf.entry - seg.paddr < seg.memsz) {
      out.entry_paddr = elf.entry;
      out.entry_vaddr = seg.vaddr + (elf.entry - seg.paddr);
    }
  }
  out.is_linux = out.entry_vaddr >= 0xffffffff80000000ull;  // __START_KERNEL_map
  return out;
}

absl::StatusOr<LoadedKernel> LoadKernelBytes(std::span<const uint8_t> bytes,
                                             const std::string& what, BootProtocol protocol,
                                             const std::string& cmdline, GuestMemory& mem,
                                             const InitrdFile& initrd) {
  if (HasBzImageMagic(bytes)) {
    if (protocol == BootProtocol::kMultiboot) {
      return Bad(what, "--boot multiboot: this is a Linux bzImage (use auto, pvh or linux)");
    }
    if (absl::Status s = WriteCmdline(mem, cmdline); !s.ok()) return s;
    return LoadBzImage(bytes, what, protocol, mem, initrd);
  }
  if (protocol == BootProtocol::kLinux) {
    return Bad(what, "--boot linux needs a bzImage (no boot sector with \"HdrS\" at 0x202)");
  }
  std::optional<ElfFile> elf;
  if (HasElfMagic(bytes)) {
    absl::StatusOr<ElfFile> parsed = ParseElf(bytes, what);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("kernel ", parsed.status().message()));
    }
    elf = std::move(*parsed);
  }
  std::optional<MultibootHeader> mb = FindMultibootHeader(bytes);
  if (!elf && !mb) {
    return Bad(what,
               "not an ELF file (no \\x7fELF magic) and no Multiboot header in its first "
               "8 KiB");
  }

  if (protocol == BootProtocol::kAuto) {
    if (elf && elf->pvh_entry) {
      protocol = BootProtocol::kPvh;
    } else if (mb) {
      protocol = BootProtocol::kMultiboot;
    } else {
      return Bad(what,
                 "no usable entry: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) and no "
                 "Multiboot header");
    }
  }

  LoadedKernel out{};
  out.protocol = protocol;
  if (elf) out.symbols = elf->symbols;
  absl::Status s = WriteCmdline(mem, cmdline);
  if (!s.ok()) return s;

  if (protocol == BootProtocol::kPvh) {
    if (!elf) return Bad(what, "--boot pvh needs an ELF file");
    return LoadPvhElf(bytes, *elf, what, mem, initrd);
  }
  if (!initrd.bytes.empty()) {
    return Bad(what, "--initrd needs a Linux kernel (bzImage or a PVH ELF), not Multiboot");
  }

  if (!mb) return Bad(what, "no usable entry: no Multiboot header in the first 8 KiB");
  uint32_t unsupported = mb->flags & 0xffff & ~kMbSupportedRequired;
  if (unsupported != 0) {
    return Bad(what, absl::StrFormat("Multiboot header requires features %#x (e.g. a video "
                                     "mode) that tlbscope does not provide",
                                     unsupported));
  }
  uint64_t entry;
  if (mb->flags & kMbAoutKludge) {
    s = LoadAoutKludge(what, bytes, *mb, mem, out);
    entry = mb->entry_addr;
  } else if (elf) {
    s = LoadElfSegments(what, bytes, *elf, mem, out);
    entry = elf->entry;
  } else {
    return Bad(what, "Multiboot header without load addresses (flags bit 16) in a non-ELF file");
  }
  if (s.ok()) s = CheckEntry(what, mem, entry, out);
  if (s.ok()) s = WriteMultibootInfo(mem);
  if (!s.ok()) return s;
  out.entry = static_cast<uint32_t>(entry);
  out.eax = kMultibootBootloaderMagic;
  out.ebx = static_cast<uint32_t>(layout::kBootInfo);
  return out;
}

}  // namespace tlbscope
