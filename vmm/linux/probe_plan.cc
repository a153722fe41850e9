#include "vmm/linux/probe_plan.h"

#include "absl/strings/str_format.h"
#include "introspect/elf_image.h"
#include "vmm/boot/elf_file.h"
#include "vmm/linux/boot_placement.h"
#include "vmm/linux/return_site.h"

namespace tlbscope {

std::string PlannedProbe::Describe() const {
  return absl::StrFormat("%s: %s", function, plan.Describe());
}

std::string PlannedLoad::Describe() const {
  return absl::StrFormat("%s+%#x: after `%s`", function, site.after() - function_address,
                         site.text);
}

std::string PlannedSyncCore::Describe() const {
  return absl::StrFormat("%s+%#x: `%s`", function, site.address - function_address, site.text);
}

namespace {

// Straight-line code at a function's start searched for a load.
constexpr uint64_t kLoadSearchBytes = 96;

void PlanLoads(const introspect::LinuxTracker& tracker, const introspect::ElfImage& image,
               const ElfFile& elf, ProbePlan& out) {
  for (const introspect::LinuxTracker::LoadWant& w : tracker.load_wants()) {
    // From the entry's breakpoint on: past the ftrace site's call.
    uint64_t start = w.function;
    for (const PlannedProbe& p : out.probes) {
      if (p.function_address == w.function) start = p.plan.address;
    }
    std::optional<std::span<const uint8_t>> code;
    // Less near the end of the text.
    for (uint64_t n = kLoadSearchBytes; !code && n >= 8; n /= 2) code = image.At(start, n);
    std::optional<LoadSite> site;
    if (code) site = FindLoad32(*code, start, w.disp);
    std::optional<uint64_t> paddr = site ? LoadedPhysical(elf.loads, site->after()) : std::nullopt;
    if (!paddr) {
      out.problems.push_back(absl::StrFormat(
          "%s: no `mov r32, [reg + %#x]` before its first call (the value read at its entry is "
          "used)",
          w.name, w.disp));
      continue;
    }
    out.loads.push_back({w.name, w.function, *site, *paddr});
  }
}

// finish_task_switch() is at most this long (it is about 1 KiB).
constexpr uint64_t kMaxFunctionBytes = 8192;

void PlanSyncCores(const introspect::KernelKnowledge& k, const introspect::ElfImage& image,
                   const ElfFile& elf, ProbePlan& out) {
  auto f = k.symbols.FindFunction("finish_task_switch");
  std::optional<uint64_t> end = f ? k.symbols.NextAbove(f->second) : std::nullopt;
  std::optional<std::span<const uint8_t>> code;
  if (end && *end - f->second <= kMaxFunctionBytes) code = image.At(f->second, *end - f->second);
  if (!code) {
    out.problems.push_back(
        "finish_task_switch: no symbol or code (membarrier SYNC_CORE is not checked)");
    return;
  }
  bool complete = false;
  std::vector<SyncCoreSite> sites = FindSyncCoreSites(*code, f->second, &complete);
  for (const SyncCoreSite& site : sites) {
    std::optional<uint64_t> paddr = LoadedPhysical(elf.loads, site.address);
    if (paddr) out.sync_cores.push_back({f->first, f->second, site, *paddr});
  }
  if (sites.empty() && complete) {
    out.no_sync_core_proven = true;
    return;
  }
  if (out.sync_cores.empty()) {
    out.problems.push_back(absl::StrFormat(
        "%s: no serializing instruction (sync_core) found (membarrier SYNC_CORE is not checked)",
        f->first));
  }
}

// A breakpoint on every return of each exit function, or none when its
// code cannot be read whole (a return missed would lose events silently).
void PlanReturns(const introspect::LinuxTracker& tracker, const introspect::KernelKnowledge& k,
                 const introspect::ElfImage& image, const ElfFile& elf, ProbePlan& out) {
  std::optional<uint64_t> thunk = k.symbols.Find("__x86_return_thunk");
  for (const introspect::LinuxTracker::Entry& e : tracker.exit_functions()) {
    std::optional<uint64_t> end = k.symbols.NextAbove(e.address);
    std::optional<std::span<const uint8_t>> code;
    if (end && *end - e.address <= kMaxFunctionBytes) code = image.At(e.address, *end - e.address);
    bool complete = false;
    std::vector<uint64_t> sites;
    if (code) sites = FindReturnSites(*code, e.address, thunk, &complete);
    if (!complete || sites.empty()) {
      out.problems.push_back(absl::StrFormat(
          "%s: its returns could not be found (code not decoded whole)", e.function));
      continue;
    }
    for (uint64_t site : sites) {
      std::optional<uint64_t> paddr = LoadedPhysical(elf.loads, site);
      if (!paddr) continue;
      PlannedProbe p;
      p.function = e.function;
      p.function_address = e.address;
      p.plan.address = site;
      p.plan.skip = introspect::EntryPlan::Skip::kEmulateRet;
      std::optional<std::span<const uint8_t>> first = image.At(site, 1);
      p.plan.length = first && (*first)[0] == 0xc3 ? 1 : 5;  // ret, or jmp rel32 to the thunk
      p.paddr = *paddr;
      p.at_return = true;
      out.probes.push_back(std::move(p));
    }
  }
}

}  // namespace

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
  PlanLoads(tracker, *image, *elf, out);
  PlanSyncCores(k, *image, *elf, out);
  PlanReturns(tracker, k, *image, *elf, out);
  out.gate = FindBootGate(k, elf->loads);
  return out;
}

}  // namespace tlbscope
