#include "common/cpu_features.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tlbscope {

const std::vector<CpuFeature>& CpuFeatures() {
  static const std::vector<CpuFeature> kFeatures = {
      {"lam", "LAM (linear address masking)", "CPUID.(EAX=7,ECX=1):EAX[26]"},
      {"la57", "5-level paging", "CPUID.(EAX=7,ECX=0):ECX[16]"},
      {"pcid", "PCID", "CPUID.1:ECX[17]"},
      {"invpcid", "INVPCID", "CPUID.(EAX=7,ECX=0):EBX[10]"},
      {"pge", "global pages", "CPUID.1:EDX[13]"},
  };
  return kFeatures;
}

const CpuFeature* FindCpuFeature(std::string_view name) {
  for (const CpuFeature& f : CpuFeatures()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

absl::Status CheckCpuFeatureNames(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (FindCpuFeature(n) != nullptr) continue;
    std::vector<std::string> known;
    for (const CpuFeature& f : CpuFeatures()) known.push_back(f.name);
    return absl::InvalidArgumentError(absl::StrFormat("'%s': unknown CPU feature (one of %s)",
                                                      absl::CHexEscape(n.substr(0, 64)),
                                                      absl::StrJoin(known, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace tlbscope
