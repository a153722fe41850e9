#include "vmm/linux/boot_placement.h"

#include "absl/strings/str_format.h"
#include "introspect/probes/entry_plan.h"

namespace tlbscope {

std::optional<BootGate> FindBootGate(const introspect::KernelKnowledge& k,
                                     const std::vector<ElfSegment>& loads) {
  std::optional<uint64_t> state = k.symbols.Find("system_state");
  const std::optional<uint64_t>& scheduling = k.layout.system_scheduling_state;
  if (!state || !scheduling || *scheduling > UINT32_MAX) return std::nullopt;
  std::optional<uint64_t> paddr = LoadedPhysical(loads, *state);
  if (!paddr) return std::nullopt;
  return BootGate{*paddr, static_cast<uint32_t>(*scheduling)};
}

bool PastBootGate(const GuestMemory& mem, const BootGate& gate) {
  absl::StatusOr<uint32_t> state = mem.ReadObject<uint32_t>(gate.paddr);
  return state.ok() && *state >= gate.scheduling;
}

absl::Status ReplanReturnFromGuest(const GuestMemory& mem, PlannedProbe& p) {
  absl::StatusOr<uint8_t> op = mem.ReadObject<uint8_t>(p.paddr);
  if (!op.ok()) return op.status();
  if (*op != 0xc3 && *op != 0xe9) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the return at %#x is now %#04x, neither ret nor jmp", p.plan.address, *op));
  }
  p.plan.length = *op == 0xc3 ? 1 : 5;
  return absl::OkStatus();
}

absl::Status ReplanEntryFromGuest(const GuestMemory& mem, PlannedProbe& p) {
  std::vector<uint8_t> code(16);
  if (absl::Status s = mem.Read(p.paddr, code); !s.ok()) return s;
  introspect::EntryPlan now = introspect::PlanEntry(p.plan.address, code, std::nullopt);
  // A 5-byte NOP there reads as an ftrace site and moves on: stepped.
  if (now.address != p.plan.address) {
    now = introspect::EntryPlan();
    now.address = p.plan.address;
  }
  now.after_ftrace = p.plan.after_ftrace;
  p.plan = now;
  return absl::OkStatus();
}

}  // namespace tlbscope
