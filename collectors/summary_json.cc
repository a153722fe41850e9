#include "collectors/summary_json.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collectors/json.h"
#include "collectors/violation.h"
#include "common/output_file.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::collect {
namespace {

std::string Hex(uint64_t v) { return absl::StrFormat("%#x", v); }

Json Cpus(CpuMask m) {
  Json a = Json::array();
  for (uint32_t c = 0; c < 64; ++c) {
    if (m & (1ull << c)) a.push_back(c);
  }
  return a;
}

Json Histogram(const Log2Histogram& h) {
  Json buckets = Json::array();
  for (int i = 0; i < Log2Histogram::kBuckets; ++i) {
    if (h.bucket(i) != 0)
      buckets.push_back({{"from", Log2Histogram::Low(i)}, {"count", h.bucket(i)}});
  }
  double mean = h.count() ? static_cast<double>(h.sum()) / h.count() : 0;
  return {{"count", h.count()},
          {"max", h.max()},
          {"mean", Milli(mean)},
          {"p50_at_most", h.Quantile(0.5)},
          {"p99_at_most", h.Quantile(0.99)},
          {"buckets", std::move(buckets)}};
}

// A violation in its one schema (tlbscope.v1.CollectorViolation, the same
// fields and names as RunResult's collector.found), with numbers as JSON
// numbers and gens in name order.
Json ViolationJson(const v1::CollectorViolation& v) {
  std::vector<std::pair<std::string, uint64_t>> sorted(v.gens().begin(), v.gens().end());
  std::sort(sorted.begin(), sorted.end());
  Json gens = Json::object();
  for (const auto& [k, g] : sorted) gens[k] = g;
  return {{"invariant", v.invariant()},
          {"vcpus", std::vector<uint32_t>(v.vcpus().begin(), v.vcpus().end())},
          {"mm", v.mm()},
          {"gens", std::move(gens)},
          {"first_seq", v.first_seq()},
          {"last_seq", v.last_seq()},
          {"key_seqs", std::vector<uint64_t>(v.key_seqs().begin(), v.key_seqs().end())},
          {"message", v.message()}};
}

// The non-zero entries of `counts`, keyed by name(index).
template <typename Counts, typename NameFn>
Json NonZero(const Counts& counts, NameFn name) {
  Json o = Json::object();
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != 0) o[name(i)] = counts[i];
  }
  return o;
}

Json StatsJson(const Stats& s) {
  return {{"flush_requests",
           {{"total", s.requests},
            {"full", s.requests_full},
            {"ranged", s.requests - s.requests_full},
            {"freed_tables", s.requests_freed_tables}}},
          {"flush_funcs",
           {{"partial", s.ff_partial},
            {"full", s.ff_full},
            {"lazy_left", s.ff_lazy_left},
            {"not_loaded", s.ff_not_loaded},
            {"up_to_date", s.ff_up_to_date}}},
          {"range_pages", Histogram(s.range_pages)},
          {"ipi_fanout", NonZero(s.fanout, [](size_t i) { return absl::StrCat(i); })},
          {"lazy_cpus_skipped", s.lazy_skipped},
          {"shootdown_latency_ns", Histogram(s.ack_latency_ns)},
          {"request_to_done_ns", Histogram(s.done_latency_ns)},
          {"page_frees", s.page_frees},
          {"page_table_frees", s.table_frees},
          {"stale_reads", s.stale_reads},
          {"events_by_kind", NonZero(s.per_kind, [](size_t k) {
             return std::string(KindName(static_cast<Kind>(k)));
           })}};
}

Json VcpuJson(const StateModel& state, uint32_t i) {
  const VcpuModel& v = state.vcpus()[i];
  return {{"vcpu", i},
          {"loaded_mm", v.loaded_mm},
          {"asid", v.asid},
          {"local_gen", v.slot().tlb_gen},
          {"lazy", v.lazy},
          {"user_mode", v.user_mode},
          {"lam", Hex(v.lam)},
          {"cr3", Hex(v.cr3)},
          {"cr3_known", v.hw_cr3_known},
          {"pending_flushes", state.PendingOn(i)},
          {"last_full_flush_seq", v.last_full_flush_seq},
          {"counts",
           {{"events", v.events},
            {"cr3_writes", v.cr3_writes},
            {"invlpgs", v.invlpgs},
            {"invpcids", v.invpcids},
            {"context_switches", v.switches},
            {"flush_funcs", v.flush_funcs},
            {"ipis_sent", v.ipis_sent},
            {"ipis_received", v.ipis_received},
            {"user_enters", v.user_enters}}}};
}

Json MmJson(const MmModel& m) {
  return {{"ctx_id", m.ctx_id},
          {"tlb_gen", m.tlb_gen},
          {"cpumask", Cpus(m.cpumask)},
          {"root", Hex(m.root)},
          {"lam", Hex(m.lam)},
          {"membarrier_sync_core", m.sync_core},
          {"completed_gen", m.completed_gen},
          {"in_flight_flushes", m.flushes.size()},
          {"in_flight_gathers", m.gathers.size()},
          {"flush_requests", m.flush_requests}};
}

// The vCPUs that spoke, in index order; the mms by ctx_id.
Json StateJson(const StateModel& state, Json* mms) {
  Json vcpus = Json::array();
  for (uint32_t i = 0; i < state.vcpus().size(); ++i) {
    if (state.vcpus()[i].seen) vcpus.push_back(VcpuJson(state, i));
  }
  std::vector<const MmModel*> sorted;
  for (const auto& [id, m] : state.mms()) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(),
            [](const MmModel* a, const MmModel* b) { return a->ctx_id < b->ctx_id; });
  *mms = Json::array();
  for (const MmModel* m : sorted) mms->push_back(MmJson(*m));
  return vcpus;
}

// Where the events came from: the source, the trace's header and end.
Json SourceJson(const Collector& c, const SourceInfo& info) {
  Json j = {{"tool", "tlbcollect"},
            {"source", info.source},
            {"complete", c.complete() && info.input_error.empty()},
            {"input_error", info.input_error}};
  if (c.header()) {
    const v1::TraceHeader& h = *c.header();
    j["trace"] = {{"smp", h.vm().smp()},
                  {"cmdline", h.vm().cmdline()},
                  {"kernel", h.kernel().path()},
                  {"kernel_sha256", h.kernel().sha256()}};
  }
  if (c.end()) {
    j["end"] = {{"events", c.end()->events()},
                {"stop_reason", c.end()->stop_reason()},
                {"exit_code", c.end()->exit_code()}};
  }
  return j;
}

}  // namespace

std::string SummaryJson(const Collector& c, const SourceInfo& info) {
  Json j = SourceJson(c, info);
  j["events"] = c.events();
  j["sequence_gaps"] = c.sequence_gaps();
  j["verdict"] = c.violation_count() == 0 ? "clean" : "violations";
  j["violation_count"] = c.violation_count();
  Json& per = j["per_invariant"] = Json::object();
  for (const auto& [name, n] : c.per_invariant()) per[name] = n;
  Json& skipped = j["not_checked"] = Json::object();
  for (const auto& [name, why] : c.not_checked()) skipped[name] = why;
  Json& found = j["violations"] = Json::array();
  for (const Violation& v : c.violations()) found.push_back(ViolationJson(ViolationToProto(v)));
  Json mms;
  j["vcpus"] = StateJson(c.state(), &mms);
  j["mms"] = std::move(mms);
  j["stats"] = StatsJson(c.stats());
  if (const StateCheck& sc = c.state_check(); sc.checks > 0) {
    j["state_vs_guest"] = {{"checks", sc.checks},
                           {"mismatches", sc.mismatches},
                           {"first_mismatch", sc.first_mismatch}};
  }
  return DumpJson(j) + "\n";
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  return WriteFileAtomically("", path, text);
}

}  // namespace tlbscope::collect
