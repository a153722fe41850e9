#pragma once
// `tlbscope run --require FEATURE` (common/cpu_features.h): CPU features a
// run needs its guest to have (a workload may imply one: lamlazy needs
// lam). A host whose KVM does not offer one skips the run before it boots:
// one line naming the feature and its CPUID bit, status 77 (the skip status
// of automake, meson and CTest's SKIP_RETURN_CODE), and results with stop
// reason "host-lacks-feature".
#include <optional>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "vmm/trap/host_caps.h"

namespace tlbscope {

// The features a tlbwork workload needs (empty for most).
std::vector<std::string> WorkloadFeatures(const std::string& workload);

// Whether `caps` says this host's KVM offers feature `name` to a guest
// (nullopt: a name HostCaps does not know).
std::optional<bool> HostOffers(const HostCaps& caps, const std::string& name);

// The first of `names` this host's KVM does not offer a guest, as one line
// ("this host's KVM (kvm_pvm) offers no LAM (linear address masking) to a
// guest (CPUID.(EAX=7,ECX=1):EAX[26]); the run needs it (--require lam)");
// nullopt when it offers them all. Names must be known (CheckCpuFeatureNames).
std::optional<std::string> MissingFeature(const HostCaps& caps,
                                          const std::vector<std::string>& names);

}  // namespace tlbscope
