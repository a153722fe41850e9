#include "vmm/cli/requirements.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "common/cpu_features.h"

namespace tlbscope {

std::vector<std::string> WorkloadFeatures(const std::string& workload) {
  if (workload == "lamlazy") return {"lam"};
  return {};
}

std::optional<bool> HostOffers(const HostCaps& caps, const std::string& name) {
  static constexpr std::pair<const char*, bool HostCaps::*> kOffered[] = {
      {"lam", &HostCaps::cpuid_lam},   {"la57", &HostCaps::cpuid_la57},
      {"pcid", &HostCaps::cpuid_pcid}, {"invpcid", &HostCaps::cpuid_invpcid},
      {"pge", &HostCaps::cpuid_pge},
  };
  for (const auto& [n, member] : kOffered) {
    if (name == n) return caps.*member;
  }
  return std::nullopt;
}

std::optional<std::string> MissingFeature(const HostCaps& caps,
                                          const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    const CpuFeature* f = FindCpuFeature(n);
    if (f == nullptr || HostOffers(caps, n).value_or(true)) continue;
    return absl::StrFormat(
        "this host's KVM (%s) offers no %s to a guest (%s); the run needs it (--require %s)",
        caps.kvm_module.empty() ? "unknown module" : caps.kvm_module, f->what, f->cpuid, f->name);
  }
  return std::nullopt;
}

}  // namespace tlbscope
