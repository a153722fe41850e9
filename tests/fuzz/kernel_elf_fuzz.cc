// The kernel loader on ELF and Multiboot input: ParseElf, then the load
// into guest memory as `tlbscope run` does it (auto: PVH or Multiboot),
// and the Multiboot path on its own (flat a.out-kludge binaries too).

#include <cstdint>
#include <cstdlib>

#include "tests/fuzz/guest_memory.h"
#include "vmm/boot/elf_file.h"
#include "vmm/boot/kernel_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tlbscope::BootProtocol;
  tlbscope::GuestMemory& mem = tlbscope::fuzz::SharedGuestMemory(64 << 20);
  std::span<const uint8_t> bytes(data, size);
  static const uint8_t kInitrdBytes[64] = {'0', '7', '0', '7', '0', '1'};
  const tlbscope::InitrdFile kInitrd{kInitrdBytes, "fuzz.initrd"};
  (void)tlbscope::ParseElf(bytes, "fuzz.elf");
  for (BootProtocol p : {BootProtocol::kAuto, BootProtocol::kMultiboot}) {
    absl::StatusOr<tlbscope::LoadedKernel> k =
        tlbscope::LoadKernelBytes(bytes, "fuzz.elf", p, "console=ttyS0", mem, kInitrd);
    if (!k.ok() && k.status().message().empty()) std::abort();
    if (k.ok() && (k->load_end < k->load_start || k->load_end > mem.size())) std::abort();
  }
  return 0;
}
