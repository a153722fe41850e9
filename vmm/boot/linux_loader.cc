// Linux bzImages: the vmlinux inside through PVH (the VMM decompresses it,
// as Firecracker and cloud-hypervisor boot a vmlinux), or the 32-bit boot
// protocol with the kernel's own decompressor (as kvmtool, QEMU and
// Firecracker's linux-loader do for a bzImage).

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vmm/boot/boot_params.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

absl::Status Bad(const std::string& what, std::string_view detail) {
  return absl::InvalidArgumentError(absl::StrFormat("kernel %s: %s", what, detail));
}

absl::StatusOr<LoadedKernel> LoadWithBootProtocol(std::span<const uint8_t> bytes,
                                                  const BzImage& img, const std::string& what,
                                                  GuestMemory& mem, const InitrdFile& initrd) {
  const SetupHeader& h = img.header;
  // The decompressor runs where the protected-mode code is loaded and writes
  // the kernel at pref_address (or, relocated, above it): init_size bytes.
  const uint64_t load = h.code32_start;
  const uint64_t kernel_end =
      std::max<uint64_t>(load + img.kernel_size, h.pref_address + h.init_size);
  if (load < layout::kHighMemory || !mem.Contains(load, img.kernel_size) ||
      !mem.Contains(h.pref_address, h.init_size)) {
    return Bad(what, absl::StrFormat("the kernel needs guest memory [%#x, %#x) (code32_start, "
                                     "pref_address + init_size) but has %u MiB; raise --mem",
                                     load, kernel_end, mem.size() >> 20));
  }
  if (absl::Status s = mem.Write(load, bytes.subspan(img.kernel_offset, img.kernel_size));
      !s.ok()) {
    return s;
  }
  LoadedKernel out{};
  out.protocol = BootProtocol::kLinux;
  out.load_start = load;
  out.load_end = kernel_end;
  if (!initrd.bytes.empty()) {
    absl::StatusOr<InitrdPlacement> p = PlaceInitrd(mem, initrd, kernel_end, h.initrd_addr_max);
    if (!p.ok()) return p.status();
    out.initrd = *p;
  }
  if (absl::Status s = WriteZeroPage(mem, bytes, out.initrd); !s.ok()) return s;
  out.entry = h.code32_start;  // startup_32
  out.esi = static_cast<uint32_t>(layout::kZeroPage);
  return out;
}

}  // namespace

absl::StatusOr<LoadedKernel> LoadBzImage(std::span<const uint8_t> bytes, const std::string& what,
                                         BootProtocol protocol, GuestMemory& mem,
                                         const InitrdFile& initrd) {
  absl::StatusOr<BzImage> img = ParseBzImage(bytes, what);
  if (!img.ok()) return img.status();
  absl::StatusOr<std::vector<uint8_t>> vmlinux = ExtractVmlinux(*img, what, mem.size());
  if (!vmlinux.ok()) return vmlinux.status();
  std::string inner = absl::StrFormat("%s (vmlinux from its payload)", what);
  absl::StatusOr<ElfFile> elf = ParseElf(*vmlinux, inner);
  if (!elf.ok()) return absl::InvalidArgumentError(absl::StrCat("kernel ", elf.status().message()));

  absl::StatusOr<LoadedKernel> out;
  if (protocol == BootProtocol::kLinux) {
    out = LoadWithBootProtocol(bytes, *img, what, mem, initrd);
  } else {
    out = LoadPvhElf(*vmlinux, *elf, inner, mem, initrd);
  }
  if (!out.ok()) return out.status();
  if (protocol == BootProtocol::kLinux) {
    for (const ElfSegment& seg : elf->loads) {  // where it lands without KASLR
      if (elf->entry >= seg.paddr && elf->entry - seg.paddr < seg.memsz) {
        out->entry_paddr = elf->entry;
        out->entry_vaddr = seg.vaddr + (elf->entry - seg.paddr);
      }
    }
  }
  out->vmlinux = std::move(*vmlinux);
  out->is_linux = true;
  return out;
}

}  // namespace tlbscope
