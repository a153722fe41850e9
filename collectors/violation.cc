#include "collectors/violation.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tlbscope/v1/run_result.pb.h"

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

v1::CollectorViolation ViolationToProto(const Violation& v) {
  v1::CollectorViolation p;
  p.set_invariant(v.invariant);
  for (uint32_t c : v.vcpus) p.add_vcpus(c);
  p.set_mm(v.mm);
  p.set_first_seq(v.first_seq);
  p.set_last_seq(v.last_seq);
  p.set_message(v.message);
  for (const auto& [name, gen] : v.gens) (*p.mutable_gens())[name] = gen;
  for (uint64_t s : v.key_seqs) p.add_key_seqs(s);
  return p;
}

}  // namespace tlbscope::collect
