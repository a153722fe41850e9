// The kernel loader on bzImage input: the setup header, the payload's
// decompression into a vmlinux, its ELF, and both loads of it (PVH
// through the vmlinux's note, and the Linux boot protocol with a zero
// page), as `tlbscope run --boot auto|linux` does them.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/fuzz/guest_memory.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/bzimage_crc.h"
#include "vmm/boot/kernel_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tlbscope::BootProtocol;
  tlbscope::GuestMemory& mem = tlbscope::fuzz::SharedGuestMemory(64 << 20);
  // The image's CRC-32 is made right, as the kernel's build writes it,
  // so that mutations reach the decompressors behind the check.
  std::vector<uint8_t> image(data, data + size);
  if (size >= 0x1f8) {
    uint64_t sects = image[0x1f1] == 0 ? 4 : image[0x1f1];
    uint32_t syssize;
    std::memcpy(&syssize, &image[0x1f4], 4);
    uint64_t end = (sects + 1) * 512 + uint64_t{syssize} * 16;
    if (syssize > 0 && end <= size) {
      uint32_t crc = tlbscope::BzImageCrc(std::span<const uint8_t>(image).first(end - 4));
      std::memcpy(&image[end - 4], &crc, 4);
    }
  }
  std::span<const uint8_t> bytes(image);
  static const uint8_t kInitrdBytes[64] = {'0', '7', '0', '7', '0', '1'};
  const tlbscope::InitrdFile kInitrd{kInitrdBytes, "fuzz.initrd"};
  absl::StatusOr<tlbscope::BzImage> img = tlbscope::ParseBzImage(bytes, "fuzz.bzImage");
  if (!img.ok()) return 0;
  absl::StatusOr<std::vector<uint8_t>> vmlinux = tlbscope::ExtractVmlinux(*img, "fuzz.bzImage");
  if (!vmlinux.ok()) return 0;
  for (BootProtocol p : {BootProtocol::kAuto, BootProtocol::kLinux}) {
    absl::StatusOr<tlbscope::LoadedKernel> k =
        tlbscope::LoadKernelBytes(bytes, "fuzz.bzImage", p, "console=ttyS0", mem, kInitrd);
    if (!k.ok() && k.status().message().empty()) std::abort();
  }
  return 0;
}
