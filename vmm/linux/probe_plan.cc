#include "vmm/linux/probe_plan.h"

#include "absl/strings/str_format.h"
#include "introspect/elf_image.h"
#include "vmm/boot/elf_file.h"

namespace tlbscope {

std::string PlannedProbe::Describe() const {
  return absl::StrFormat("%s: %s", function, plan.Describe());
}

ProbePlan PlanProbes(const introspect::LinuxTracker& tracker, const introspect::KernelKnowledge& k,
                     std::span<const uint8_t> vmlinux) {
  ProbePlan out;
  absl::StatusOr<introspect::ElfImage> image = introspect::ElfImage::Open(vmlinux);
  absl::StatusOr<ElfFile> elf = ParseElf(vmlinux, "vmlinux");
  if (!image.ok() || !elf.ok()) {
    out.problems.push_back("the vmlinux is not a readable ELF");
    return out;
  }
  std::optional<uint64_t> fentry = k.symbols.Find("__fentry__");
  for (const introspect::LinuxTracker::Entry& e : tracker.entries()) {
    constexpr uint64_t kCodeBytes = 16;
    std::optional<std::span<const uint8_t>> code = image->At(e.address, kCodeBytes);
    if (!code) {
      out.problems.push_back(
          absl::StrFormat("%s at %#x: no code in the vmlinux there", e.function, e.address));
      continue;
    }
    PlannedProbe p;
    p.function = e.function;
    p.function_address = e.address;
    p.plan = introspect::PlanEntry(e.address, *code, fentry);
    std::optional<uint64_t> paddr = LoadedPhysical(elf->loads, p.plan.address);
    if (!paddr) {
      out.problems.push_back(
          absl::StrFormat("%s at %#x: in no loadable segment", e.function, p.plan.address));
      continue;
    }
    p.paddr = *paddr;
    out.probes.push_back(std::move(p));
  }
  return out;
}

}  // namespace tlbscope
