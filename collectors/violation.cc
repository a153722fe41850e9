#include "collectors/violation.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tlbscope::collect {

std::string FormatViolation(const Violation& v) {
  std::string gens;
  for (const auto& [name, value] : v.gens) {
    absl::StrAppendFormat(&gens, "%s%s=%d", gens.empty() ? "" : " ", name, value);
  }
  return absl::StrFormat("%s: mm %d, vcpu %s, %s; events %d..%d [%s]: %s", v.invariant, v.mm,
                         absl::StrJoin(v.vcpus, ","), gens.empty() ? "no gens" : gens, v.first_seq,
                         v.last_seq, absl::StrJoin(v.key_seqs, " "), v.message);
}

}  // namespace tlbscope::collect
