#include "collectors/terminal.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace tlbscope::collect {
namespace {

std::string CpuList(CpuMask m) {
  std::string s;
  for (uint32_t c = 0; c < 64; ++c) {
    if (m & (1ull << c)) absl::StrAppendFormat(&s, "%s%d", s.empty() ? "" : ",", c);
  }
  return s.empty() ? "-" : s;
}

std::string Hist(const Log2Histogram& h, double scale, const char* unit) {
  if (h.count() == 0) return "none";
  std::string s = absl::StrFormat("n=%d p50<=%.1f%s p99<=%.1f%s max %.1f%s;", h.count(),
                                  h.Quantile(0.5) / scale, unit, h.Quantile(0.99) / scale, unit,
                                  h.max() / scale, unit);
  for (int i = 0; i < Log2Histogram::kBuckets; ++i) {
    if (h.bucket(i) == 0) continue;
    absl::StrAppendFormat(&s, " >=%g:%d", Log2Histogram::Low(i) / scale, h.bucket(i));
  }
  return s;
}

}  // namespace

std::string FormatViolationLine(const Violation& v, const std::string& prefix) {
  return prefix + "VIOLATION " + FormatViolation(v) + "\n";
}

std::string FormatStatusLine(const Collector& c) {
  std::string s = absl::StrFormat("%d events", c.events());
  const auto& vcpus = c.state().vcpus();
  for (uint32_t i = 0; i < vcpus.size(); ++i) {
    const VcpuModel& v = vcpus[i];
    if (!v.seen) continue;
    absl::StrAppendFormat(&s, "; vcpu%d mm %d gen %d%s%s", i, v.loaded_mm, v.slot().tlb_gen,
                          v.lazy ? " lazy" : "", v.user_mode ? " user" : "");
  }
  absl::StrAppendFormat(&s, "; %d violations", c.violation_count());
  return s;
}

std::string FormatSummary(const Collector& c, const std::string& p) {
  std::string out;
  const Stats& st = c.stats();
  int nvcpus = 0;
  for (const VcpuModel& v : c.state().vcpus()) nvcpus += v.seen ? 1 : 0;
  absl::StrAppendFormat(&out, "%s%d events%s, %d vCPUs, %d mms\n", p, c.events(),
                        c.complete() ? "" : " (the stream ended early)", nvcpus,
                        c.state().mms().size());
  absl::StrAppendFormat(&out, "%s%-5s %5s %5s %9s %-8s %-18s %6s %6s %7s %6s %6s %5s %5s\n", p,
                        "vcpu", "mm", "gen", "state", "lam", "cr3", "cr3w", "invlpg", "invpcid",
                        "switch", "flushf", "ipi", "user");
  const auto& vcpus = c.state().vcpus();
  for (uint32_t i = 0; i < vcpus.size(); ++i) {
    const VcpuModel& v = vcpus[i];
    if (!v.seen) continue;
    std::string state = v.stopped ? "stopped" : v.lazy ? "lazy" : v.user_mode ? "user" : "kernel";
    absl::StrAppendFormat(&out, "%s%-5d %5d %5d %9s %-8s %-18s %6d %6d %7d %6d %6d %5d %5d\n", p, i,
                          v.loaded_mm, v.slot().tlb_gen, state, absl::StrFormat("%#x", v.lam),
                          v.hw_cr3_known ? absl::StrFormat("%#x", v.cr3) : "?", v.cr3_writes,
                          v.invlpgs, v.invpcids, v.switches, v.flush_funcs,
                          v.ipis_sent + v.ipis_received, v.user_enters);
  }
  std::vector<const MmModel*> mms;
  for (const auto& [id, m] : c.state().mms()) mms.push_back(&m);
  std::sort(mms.begin(), mms.end(),
            [](const MmModel* a, const MmModel* b) { return a->ctx_id < b->ctx_id; });
  for (const MmModel* m : mms) {
    if (m->flush_requests == 0 && m->cpumask == 0 && m->root == 0) continue;
    absl::StrAppendFormat(&out,
                          "%smm %d: tlb_gen %d, completed %d, cpumask %s, root %#x, LAM %#x%s, "
                          "%d flush requests, %d in flight\n",
                          p, m->ctx_id, m->tlb_gen, m->completed_gen, CpuList(m->cpumask), m->root,
                          m->lam, m->sync_core ? ", membarrier SYNC_CORE" : "", m->flush_requests,
                          m->flushes.size());
  }
  absl::StrAppendFormat(
      &out,
      "%sflushes: %d requests (%d full, %d ranged, %d freed_tables); flush_tlb_func: %d partial, "
      "%d full, %d lazy_left, %d not_loaded, %d up to date\n",
      p, st.requests, st.requests_full, st.requests - st.requests_full, st.requests_freed_tables,
      st.ff_partial, st.ff_full, st.ff_lazy_left, st.ff_not_loaded, st.ff_up_to_date);
  std::string fan;
  for (size_t i = 0; i < st.fanout.size(); ++i) {
    if (st.fanout[i] != 0) absl::StrAppendFormat(&fan, " %d:%d", i, st.fanout[i]);
  }
  absl::StrAppendFormat(&out,
                        "%srange pages: %s\n%sIPI fan-out (remote targets:requests):%s; "
                        "lazy CPUs skipped: %d\n",
                        p, Hist(st.range_pages, 1, ""), p, fan.empty() ? " none" : fan,
                        st.lazy_skipped);
  absl::StrAppendFormat(&out, "%sshootdown latency (request to last ack): %s\n", p,
                        Hist(st.ack_latency_ns, 1000, "us"));
  if (const StateCheck& sc = c.state_check(); sc.checks > 0) {
    absl::StrAppendFormat(
        &out, "%sstate vs guest: %d returns to user mode checked, %d mismatches%s\n", p, sc.checks,
        sc.mismatches, sc.mismatches == 0 ? "" : " (first: " + sc.first_mismatch + ")");
  }
  size_t unchecked = c.not_checked().size();
  for (const auto& [name, why] : c.not_checked()) {
    absl::StrAppendFormat(&out, "%snot checked: %s: %s\n", p, name, why);
  }
  std::string checked =
      absl::StrFormat("%d invariants checked", InvariantCatalog().size() - unchecked);
  if (unchecked > 0) absl::StrAppendFormat(&checked, ", %d not checked", unchecked);
  if (c.violation_count() == 0) {
    absl::StrAppendFormat(&out, "%sverdict: clean (%s)\n", p, checked);
  } else {
    std::string by;
    for (const auto& [name, n] : c.per_invariant()) {
      if (n != 0) absl::StrAppendFormat(&by, "%s%s %d", by.empty() ? "" : ", ", name, n);
    }
    absl::StrAppendFormat(&out, "%sverdict: %d violations: %s (%s)\n", p, c.violation_count(), by,
                          checked);
  }
  return out;
}

}  // namespace tlbscope::collect
