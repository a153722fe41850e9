// --hold in a run: its sites resolved with the kernel's symbols and placed
// as probe int3s in front of the Linux probes; where a vCPU is, for the
// line a timed-out hold prints.
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "introspect/symbols.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {

absl::StatusOr<std::unique_ptr<HoldHandle>> CreateHolds(const MachineConfig& config,
                                                        LoadedGuest& guest, TrapEngine* engine,
                                                        LinuxProbes* probes) {
  if (config.holds.empty()) return nullptr;
  if (engine == nullptr || !engine->plan().software_breakpoints) {
    return absl::FailedPreconditionError(
        "--hold: this host cannot trap an int3 in guest kernel code (the hold sites' "
        "breakpoints)");
  }
  auto h = std::make_unique<HoldHandle>();
  std::vector<hold::Spec> specs;
  for (const std::string& text : config.holds) {
    absl::StatusOr<hold::Spec> s = hold::ParseSpec(text, config.smp);
    if (!s.ok()) return s.status();
    specs.push_back(*std::move(s));
  }
  if (probes != nullptr) {
    h->symbols = probes->knowledge().symbols;
  } else if (absl::StatusOr<introspect::KernelSymbols> s =
                 introspect::SymbolsFromElfSymtab(guest.image());
             s.ok()) {
    h->symbols = *std::move(s);
  }
  absl::StatusOr<ElfFile> elf = ParseElf(guest.image(), config.kernel_path);
  if (!elf.ok()) return elf.status();
  const introspect::KernelSymbols* symbols = &h->symbols;
  absl::StatusOr<std::unique_ptr<HoldProbes>> holds = HoldProbes::Create(
      std::move(specs), [symbols](const std::string& n) { return symbols->Find(n); }, elf->loads,
      &guest.mem, &engine->probe_points(), probes);
  if (!holds.ok()) return holds.status();
  h->probes = *std::move(holds);
  engine->SetProbeClient(h->probes.get());
  for (const std::string& text : config.holds) Log("--hold %s: breakpoints placed", text);
  return h;
}

std::string WhereIs(const introspect::KernelSymbols& symbols, uint64_t rip) {
  std::string name = symbols.NameAt(rip);
  if (name.empty()) return absl::StrFormat("rip %#x", rip);
  return absl::StrFormat("%s (rip %#x)", name, rip);
}

}  // namespace tlbscope
