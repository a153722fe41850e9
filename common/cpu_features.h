#pragma once

// The CPU features a run may require of its guest (`run --require`, a
// regress suite's `requires`): their names, what they are and the CPUID bit
// that offers them. One list, so that a suite with an unknown name is
// refused when it is read, before anything boots.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tlbscope {

// `tlbscope run`'s exit status for a run skipped because the host's KVM
// lacks a required feature (automake's, meson's and CTest's skip status),
// and the stop reason its --results says.
inline constexpr int kExitSkipped = 77;
inline constexpr char kStopHostLacksFeature[] = "host-lacks-feature";

struct CpuFeature {
  const char* name;   // lam, la57, pcid, invpcid, pge
  const char* what;   // "LAM (linear address masking)"
  const char* cpuid;  // "CPUID.(EAX=7,ECX=1):EAX[26]"
};

const std::vector<CpuFeature>& CpuFeatures();

// nullptr for an unknown name.
const CpuFeature* FindCpuFeature(std::string_view name);

// InvalidArgument "'NAME': unknown CPU feature (one of lam, ...)" for the
// first unknown name; the caller prefixes what gave it.
absl::Status CheckCpuFeatureNames(const std::vector<std::string>& names);

}  // namespace tlbscope
