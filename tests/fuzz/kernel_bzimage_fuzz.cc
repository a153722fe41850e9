// The kernel loader on bzImage input: the setup header, the payload's
// decompression into a vmlinux, its ELF, and both loads of it (PVH
// through the vmlinux's note, and the Linux boot protocol with a zero
// page), as `tlbscope run --boot auto|linux` does them.

#include <cstdint>
#include <cstdlib>

#include "tests/fuzz/guest_memory.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/kernel_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tlbscope::BootProtocol;
  tlbscope::GuestMemory& mem = tlbscope::fuzz::SharedGuestMemory(64 << 20);
  std::span<const uint8_t> bytes(data, size);
  static const uint8_t kInitrd[64] = {'0', '7', '0', '7', '0', '1'};
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
