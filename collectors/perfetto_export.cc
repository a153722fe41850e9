#include "collectors/perfetto_export.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "collectors/perfetto_proto_export.h"
#include "common/output_file.h"

namespace tlbscope::collect {
namespace {

constexpr int kPid = 1;

std::string Hex(uint64_t v) { return absl::StrFormat("%#x", v); }

// Flags as 0/1, as the trace viewers show them.
int Flag(bool b) { return b ? 1 : 0; }

std::string DescribeFlushRequest(const FlushRequestF& r, Json* args) {
  *args =
      JsonMembers("mm", r.mm, "start", Hex(r.start), "end", Hex(r.end), "new_tlb_gen",
                  r.new_tlb_gen, "freed_tables", Flag(r.freed_tables), "targets", Hex(r.targets));
  return absl::StrFormat("flush_request mm %d gen %d%s", r.mm, r.new_tlb_gen,
                         r.end == kFlushAll ? " full" : "");
}

std::string DescribeFlushFunc(const FlushFuncF& f, Json* args) {
  *args = JsonMembers("mm", f.mm, "local_gen_before", f.local_gen_before, "local_gen_after",
                      f.local_gen_after, "mm_gen", f.mm_gen, "full", Flag(f.full), "lazy_left",
                      Flag(f.lazy_left), "not_loaded", Flag(f.not_loaded));
  return absl::StrFormat("flush_tlb_func mm %d %d->%d", f.mm, f.local_gen_before,
                         f.local_gen_after);
}

std::string DescribeSwitch(const ContextSwitchF& cs, Json* args) {
  *args = JsonMembers("prev_mm", cs.prev_mm, "next_mm", cs.next_mm, "cr3", Hex(cs.cr3), "was_lazy",
                      Flag(cs.was_lazy), "reload", Flag(cs.reload), "raw", Flag(cs.raw), "cpu_lam",
                      Hex(cs.cpu_lam));
  return absl::StrFormat("switch_mm %d->%d", cs.prev_mm, cs.next_mm);
}

std::string DescribeFlushDone(const FlushDoneF& d, Json* args) {
  *args = JsonMembers("mm", d.mm, "tlb_gen", d.tlb_gen, "acked", Hex(d.acked));
  return absl::StrFormat("flush_done mm %d gen %d", d.mm, d.tlb_gen);
}

// The arguments of the kinds whose slice is named by the kind.
Json KindArgs(const CEvent& e) {
  switch (e.kind) {
    case Kind::kCr3Write:
      return JsonMembers("cr3", Hex(e.cr3.new_cr3), "noflush", Flag(e.cr3.noflush));
    case Kind::kInvlpg:
      return JsonMembers("address", Hex(e.invlpg.address));
    case Kind::kInvpcid:
      return JsonMembers("type", e.invpcid.type, "address", Hex(e.invpcid.address));
    case Kind::kIpiSent:
      return JsonMembers("targets", Hex(e.ipi_sent.targets), "vector", e.ipi_sent.vector);
    case Kind::kIpiReceived:
      return JsonMembers("vector", e.ipi_received.vector);
    case Kind::kUserEnter: {
      const UserEnterF& u = e.user_enter;
      return JsonMembers("mm", u.mm, "local_gen", u.local_gen, "mm_gen", u.mm_gen);
    }
    case Kind::kPageTableFree: {
      const PageTableFreeF& p = e.pt_free;
      return JsonMembers("mm", p.mm, "table", Hex(p.table_address), "level", p.level,
                         "covering_tlb_gen", p.covering_tlb_gen);
    }
    case Kind::kGatherEnd: {
      const GatherEndF& g = e.gather_end;
      return JsonMembers("mm", g.mm, "flushed_start", Hex(g.flushed_start), "flushed_end",
                         Hex(g.flushed_end), "nested", Flag(g.nested), "freed_tables",
                         Flag(g.freed_tables));
    }
    default:
      return Json::object();
  }
}

}  // namespace

std::string DescribeEvent(const CEvent& e, Json* args) {
  switch (e.kind) {
    case Kind::kFlushRequest:
      return DescribeFlushRequest(e.flush_request, args);
    case Kind::kFlushFunc:
      return DescribeFlushFunc(e.flush_func, args);
    case Kind::kContextSwitch:
      return DescribeSwitch(e.cs, args);
    case Kind::kFlushDone:
      return DescribeFlushDone(e.flush_done, args);
    default:
      *args = KindArgs(e);
      return e.kind == Kind::kCr3Write ? "mov cr3" : KindName(e.kind);
  }
}

absl::StatusOr<PerfettoFormat> ParsePerfettoFormat(const std::string& text) {
  if (text == "json") return PerfettoFormat::kJson;
  if (text == "proto") return PerfettoFormat::kProto;
  if (text == "auto") return PerfettoFormat::kAuto;
  return absl::InvalidArgumentError(
      absl::StrFormat("--perfetto-format '%s': must be json, proto or auto", text));
}

PerfettoFormat ResolvePerfettoFormat(const std::string& path, PerfettoFormat f) {
  if (f != PerfettoFormat::kAuto) return f;
  bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  return json ? PerfettoFormat::kJson : PerfettoFormat::kProto;
}

absl::StatusOr<std::unique_ptr<PerfettoExport>> CreatePerfettoExport(const std::string& path,
                                                                     PerfettoFormat f) {
  if (ResolvePerfettoFormat(path, f) == PerfettoFormat::kProto) {
    absl::StatusOr<std::unique_ptr<PerfettoProtoWriter>> w = PerfettoProtoWriter::Create(path);
    if (!w.ok()) return w.status();
    return std::unique_ptr<PerfettoExport>(std::move(*w));
  }
  absl::StatusOr<std::unique_ptr<PerfettoWriter>> w = PerfettoWriter::Create(path);
  if (!w.ok()) return w.status();
  return std::unique_ptr<PerfettoExport>(std::move(*w));
}

absl::StatusOr<std::unique_ptr<PerfettoWriter>> PerfettoWriter::Create(const std::string& path) {
  absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Open("--perfetto", path);
  if (!out.ok()) return out.status();
  return std::unique_ptr<PerfettoWriter>(new PerfettoWriter(std::move(*out)));
}

PerfettoWriter::PerfettoWriter(std::unique_ptr<OutputFile> out)
    : out_(std::move(out)), timeline_(this) {
  buf_ = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  Metadata(0, "process_name", "name", "tlbscope guest");
}

PerfettoWriter::~PerfettoWriter() {
  if (!closed_) (void)Close();
}

// One trace event per line: the file streams, no document is held.
void PerfettoWriter::Emit(const Json& event) {
  if (!first_) buf_ += ",\n";
  first_ = false;
  buf_ += DumpJson(event);
  if (buf_.size() > (1 << 16)) Pump();
}

void PerfettoWriter::Pump() {
  if (buf_.empty()) return;
  out_->Write(buf_.data(), buf_.size());  // the first error is kept for Close
  buf_.clear();
}

void PerfettoWriter::Metadata(uint32_t tid, const char* name, const char* key, Json value) {
  Emit(JsonMembers("ph", "M", "pid", kPid, "tid", tid, "name", name, "args",
                   JsonMembers(key, std::move(value))));
}

void PerfettoWriter::Slice(uint32_t vcpu, const CEvent& e, int64_t dur_ns, const std::string& name,
                           Json args) {
  JsonObject a(args.size() + 1);  // seq, then the event's own
  a.Add("seq", e.seq);
  for (auto& [k, v] : args.get_ref<Json::object_t&>()) a.Add(k.c_str(), std::move(v));
  Emit(JsonMembers("ph", "X", "pid", kPid, "tid", vcpu, "ts", Us(e.host_ns), "dur",
                   static_cast<double>(dur_ns) / 1000.0, "name", name, "cat", KindName(e.kind),
                   "args", std::move(a.json())));
}

void PerfettoWriter::Flow(char phase, const char* cat, uint64_t id, uint32_t vcpu, int64_t ns) {
  Emit(JsonMembers("ph", std::string(1, phase), "bp", "e", "pid", kPid, "tid", vcpu, "ts", Us(ns),
                   "id", id, "name", cat, "cat", cat));
}

void PerfettoWriter::Counter(const std::string& name, int64_t ns, uint64_t value) {
  Emit(JsonMembers("ph", "C", "pid", kPid, "ts", Us(ns), "name", name, "args",
                   JsonMembers("value", value)));
}

void PerfettoWriter::OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) {
  timeline_.OnEvent(e, after, notes);
}

void PerfettoWriter::NewVcpu(uint32_t v) {
  Metadata(v, "thread_name", "name", absl::StrFormat("vCPU %d", v));
  Metadata(v, "thread_sort_index", "sort_index", v);
}

void PerfettoWriter::FlowStep(const FlowTracker::Flow& f, size_t i) {
  char phase = i == 0 ? 's' : (i + 1 == f.steps.size() ? 'f' : 't');
  Flow(phase, FlowTracker::Name(f.kind), f.id, f.steps[i].vcpu, f.steps[i].ns);
}

void PerfettoWriter::MmGen(uint64_t mm, int64_t ns, uint64_t tlb_gen) {
  Counter(absl::StrFormat("mm %d tlb_gen", mm), ns, tlb_gen);
}

void PerfettoWriter::VcpuGen(uint32_t v, int64_t ns, uint64_t local_gen) {
  Counter(absl::StrFormat("vCPU %d local gen", v), ns, local_gen);
}

void PerfettoWriter::OnViolation(const Violation& v) {
  Emit(JsonMembers("ph", "i", "s", "g", "pid", kPid, "tid", 0, "ts",
                   timeline_.started() ? Us(timeline_.last_ns()) : 0.0, "name",
                   "VIOLATION " + v.invariant, "cat", "violation", "args",
                   JsonMembers("message", v.message, "mm", v.mm, "first_seq", v.first_seq,
                               "last_seq", v.last_seq)));
}

absl::Status PerfettoWriter::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  timeline_.Finish();
  buf_ += "\n]}\n";
  Pump();
  return out_->Close();
}

}  // namespace tlbscope::collect
