#include "vmm/linux/boot_placement.h"

#include <array>

#include "absl/strings/str_format.h"
#include "introspect/probes/entry_plan.h"

namespace tlbscope {

std::optional<BootGate> FindBootGate(const introspect::KernelKnowledge& k,
                                     std::span<const uint8_t> vmlinux) {
  std::optional<uint64_t> state = k.symbols.Find("system_state");
  const std::optional<uint64_t>& scheduling = k.layout.system_scheduling_state;
  if (!state || !scheduling || *scheduling > UINT32_MAX) return std::nullopt;
  absl::StatusOr<ElfFile> elf = ParseElf(vmlinux, "vmlinux");
  if (!elf.ok()) return std::nullopt;
  std::optional<uint64_t> paddr = LoadedPhysical(elf->loads, *state);
  if (!paddr) return std::nullopt;
  return BootGate{*paddr, static_cast<uint32_t>(*scheduling)};
}

bool PastBootGate(const GuestMemory& mem, const BootGate& gate) {
  absl::StatusOr<uint32_t> state = mem.ReadObject<uint32_t>(gate.paddr);
  return state.ok() && *state >= gate.scheduling;
}

absl::Status ReplanFromGuest(const GuestMemory& mem, std::optional<uint64_t> fentry,
                             PlannedProbe& p) {
  if (p.at_return) {
    absl::StatusOr<uint8_t> op = mem.ReadObject<uint8_t>(p.paddr);
    if (!op.ok()) return op.status();
    if (*op != 0xc3 && *op != 0xe9) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the return at %#x is now %#04x, neither ret nor jmp", p.plan.address, *op));
    }
    p.plan.length = *op == 0xc3 ? 1 : 5;
    return absl::OkStatus();
  }
  // The function's first bytes: the int3's byte is `offset` into them.
  const uint64_t offset = p.plan.address - p.function_address;
  std::array<uint8_t, 16> code{};
  if (offset > p.paddr) return absl::OutOfRangeError("the function starts below guest memory");
  if (absl::Status s = mem.Read(p.paddr - offset, code); !s.ok()) return s;
  introspect::EntryPlan now = introspect::PlanEntry(p.function_address, code, fentry);
  if (now.address != p.plan.address) {
    return absl::FailedPreconditionError(
        absl::StrFormat("its entry plan moved from %#x to %#x with the kernel's boot-time patching",
                        p.plan.address, now.address));
  }
  p.plan = now;
  return absl::OkStatus();
}

}  // namespace tlbscope
