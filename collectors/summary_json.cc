#include "collectors/summary_json.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collectors/json_writer.h"
#include "collectors/violation.h"
#include "common/output_file.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::collect {
namespace {

std::string Hex(uint64_t v) { return absl::StrFormat("%#x", v); }

void Cpus(JsonWriter& w, CpuMask m) {
  w.BeginArray();
  for (uint32_t c = 0; c < 64; ++c) {
    if (m & (1ull << c)) w.Uint(c);
  }
  w.EndArray();
}

void Histogram(JsonWriter& w, const Log2Histogram& h) {
  w.BeginObject();
  w.Key("count").Uint(h.count());
  w.Key("max").Uint(h.max());
  w.Key("mean").Double(h.count() ? static_cast<double>(h.sum()) / h.count() : 0);
  w.Key("p50_at_most").Uint(h.Quantile(0.5));
  w.Key("p99_at_most").Uint(h.Quantile(0.99));
  w.Key("buckets").BeginArray();
  for (int i = 0; i < Log2Histogram::kBuckets; ++i) {
    if (h.bucket(i) == 0) continue;
    w.BeginObject().Key("from").Uint(Log2Histogram::Low(i)).Key("count").Uint(h.bucket(i));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// A violation in its one schema (tlbscope.v1.CollectorViolation, the same
// fields and names as RunResult's collector.found), with numbers as JSON
// numbers and gens in name order.
void WriteViolation(JsonWriter& w, const v1::CollectorViolation& v) {
  w.BeginObject();
  w.Key("invariant").String(v.invariant());
  w.Key("vcpus").BeginArray();
  for (uint32_t c : v.vcpus()) w.Uint(c);
  w.EndArray();
  w.Key("mm").Uint(v.mm());
  w.Key("gens").BeginObject();
  std::vector<std::pair<std::string, uint64_t>> gens(v.gens().begin(), v.gens().end());
  std::sort(gens.begin(), gens.end());
  for (const auto& [k, g] : gens) w.Key(k).Uint(g);
  w.EndObject();
  w.Key("first_seq").Uint(v.first_seq());
  w.Key("last_seq").Uint(v.last_seq());
  w.Key("key_seqs").BeginArray();
  for (uint64_t s : v.key_seqs()) w.Uint(s);
  w.EndArray();
  w.Key("message").String(v.message());
  w.EndObject();
}

void WriteStats(JsonWriter& w, const Stats& s) {
  w.BeginObject();
  w.Key("flush_requests").BeginObject();
  w.Key("total").Uint(s.requests);
  w.Key("full").Uint(s.requests_full);
  w.Key("ranged").Uint(s.requests - s.requests_full);
  w.Key("freed_tables").Uint(s.requests_freed_tables);
  w.EndObject();
  w.Key("flush_funcs").BeginObject();
  w.Key("partial").Uint(s.ff_partial);
  w.Key("full").Uint(s.ff_full);
  w.Key("lazy_left").Uint(s.ff_lazy_left);
  w.Key("not_loaded").Uint(s.ff_not_loaded);
  w.Key("up_to_date").Uint(s.ff_up_to_date);
  w.EndObject();
  w.Key("range_pages");
  Histogram(w, s.range_pages);
  w.Key("ipi_fanout").BeginObject();
  for (size_t i = 0; i < s.fanout.size(); ++i) {
    if (s.fanout[i] != 0) w.Key(absl::StrCat(i)).Uint(s.fanout[i]);
  }
  w.EndObject();
  w.Key("lazy_cpus_skipped").Uint(s.lazy_skipped);
  w.Key("shootdown_latency_ns");
  Histogram(w, s.ack_latency_ns);
  w.Key("request_to_done_ns");
  Histogram(w, s.done_latency_ns);
  w.Key("page_frees").Uint(s.page_frees);
  w.Key("page_table_frees").Uint(s.table_frees);
  w.Key("stale_reads").Uint(s.stale_reads);
  w.Key("events_by_kind").BeginObject();
  for (int k = 0; k < kMaxKind; ++k) {
    if (s.per_kind[k] != 0) w.Key(KindName(static_cast<Kind>(k))).Uint(s.per_kind[k]);
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string SummaryJson(const Collector& c, const SourceInfo& info) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("tool").String("tlbcollect");
  w.Key("source").String(info.source);
  w.Key("complete").Bool(c.complete() && info.input_error.empty());
  w.Key("input_error").String(info.input_error);
  if (c.header()) {
    const v1::TraceHeader& h = *c.header();
    w.Key("trace").BeginObject();
    w.Key("smp").Uint(h.vm().smp());
    w.Key("cmdline").String(h.vm().cmdline());
    w.Key("kernel").String(h.kernel().path());
    w.Key("kernel_sha256").String(h.kernel().sha256());
    w.EndObject();
  }
  if (c.end()) {
    w.Key("end").BeginObject();
    w.Key("events").Uint(c.end()->events());
    w.Key("stop_reason").String(c.end()->stop_reason());
    w.Key("exit_code").Int(c.end()->exit_code());
    w.EndObject();
  }
  w.Key("events").Uint(c.events());
  w.Key("sequence_gaps").Uint(c.sequence_gaps());
  w.Key("verdict").String(c.violation_count() == 0 ? "clean" : "violations");
  w.Key("violation_count").Uint(c.violation_count());
  w.Key("per_invariant").BeginObject();
  for (const auto& [name, n] : c.per_invariant()) w.Key(name).Uint(n);
  w.EndObject();
  w.Key("not_checked").BeginObject();
  for (const auto& [name, why] : c.not_checked()) w.Key(name).String(why);
  w.EndObject();
  w.Key("violations").BeginArray();
  for (const Violation& v : c.violations()) WriteViolation(w, ViolationToProto(v));
  w.EndArray();
  w.Key("vcpus").BeginArray();
  const auto& vcpus = c.state().vcpus();
  for (uint32_t i = 0; i < vcpus.size(); ++i) {
    const VcpuModel& v = vcpus[i];
    if (!v.seen) continue;
    w.BeginObject();
    w.Key("vcpu").Uint(i);
    w.Key("loaded_mm").Uint(v.loaded_mm);
    w.Key("asid").Uint(v.asid);
    w.Key("local_gen").Uint(v.slot().tlb_gen);
    w.Key("lazy").Bool(v.lazy);
    w.Key("user_mode").Bool(v.user_mode);
    w.Key("lam").String(Hex(v.lam));
    w.Key("cr3").String(Hex(v.cr3));
    w.Key("cr3_known").Bool(v.hw_cr3_known);
    w.Key("pending_flushes").Int(c.state().PendingOn(i));
    w.Key("last_full_flush_seq").Uint(v.last_full_flush_seq);
    w.Key("counts").BeginObject();
    w.Key("events").Uint(v.events);
    w.Key("cr3_writes").Uint(v.cr3_writes);
    w.Key("invlpgs").Uint(v.invlpgs);
    w.Key("invpcids").Uint(v.invpcids);
    w.Key("context_switches").Uint(v.switches);
    w.Key("flush_funcs").Uint(v.flush_funcs);
    w.Key("ipis_sent").Uint(v.ipis_sent);
    w.Key("ipis_received").Uint(v.ipis_received);
    w.Key("user_enters").Uint(v.user_enters);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("mms").BeginArray();
  std::vector<const MmModel*> mms;
  for (const auto& [id, m] : c.state().mms()) mms.push_back(&m);
  std::sort(mms.begin(), mms.end(),
            [](const MmModel* a, const MmModel* b) { return a->ctx_id < b->ctx_id; });
  for (const MmModel* m : mms) {
    w.BeginObject();
    w.Key("ctx_id").Uint(m->ctx_id);
    w.Key("tlb_gen").Uint(m->tlb_gen);
    w.Key("cpumask");
    Cpus(w, m->cpumask);
    w.Key("root").String(Hex(m->root));
    w.Key("lam").String(Hex(m->lam));
    w.Key("membarrier_sync_core").Bool(m->sync_core);
    w.Key("completed_gen").Uint(m->completed_gen);
    w.Key("in_flight_flushes").Uint(m->flushes.size());
    w.Key("in_flight_gathers").Uint(m->gathers.size());
    w.Key("flush_requests").Uint(m->flush_requests);
    w.EndObject();
  }
  w.EndArray();
  w.Key("stats");
  WriteStats(w, c.stats());
  w.EndObject();
  out.push_back('\n');
  return out;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  return WriteFileAtomically("", path, text);
}

}  // namespace tlbscope::collect
