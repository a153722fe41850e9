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
  *args = std::move(JsonObject(6)
                        .Add("mm", r.mm)
                        .Add("start", Hex(r.start))
                        .Add("end", Hex(r.end))
                        .Add("new_tlb_gen", r.new_tlb_gen)
                        .Add("freed_tables", Flag(r.freed_tables))
                        .Add("targets", Hex(r.targets))
                        .json());
  return absl::StrFormat("flush_request mm %d gen %d%s", r.mm, r.new_tlb_gen,
                         r.end == kFlushAll ? " full" : "");
}

std::string DescribeFlushFunc(const FlushFuncF& f, Json* args) {
  *args = std::move(JsonObject(7)
                        .Add("mm", f.mm)
                        .Add("local_gen_before", f.local_gen_before)
                        .Add("local_gen_after", f.local_gen_after)
                        .Add("mm_gen", f.mm_gen)
                        .Add("full", Flag(f.full))
                        .Add("lazy_left", Flag(f.lazy_left))
                        .Add("not_loaded", Flag(f.not_loaded))
                        .json());
  return absl::StrFormat("flush_tlb_func mm %d %d->%d", f.mm, f.local_gen_before,
                         f.local_gen_after);
}

std::string DescribeSwitch(const ContextSwitchF& cs, Json* args) {
  *args = std::move(JsonObject(7)
                        .Add("prev_mm", cs.prev_mm)
                        .Add("next_mm", cs.next_mm)
                        .Add("cr3", Hex(cs.cr3))
                        .Add("was_lazy", Flag(cs.was_lazy))
                        .Add("reload", Flag(cs.reload))
                        .Add("raw", Flag(cs.raw))
                        .Add("cpu_lam", Hex(cs.cpu_lam))
                        .json());
  return absl::StrFormat("switch_mm %d->%d", cs.prev_mm, cs.next_mm);
}

std::string DescribeFlushDone(const FlushDoneF& d, Json* args) {
  *args = std::move(
      JsonObject(3).Add("mm", d.mm).Add("tlb_gen", d.tlb_gen).Add("acked", Hex(d.acked)).json());
  return absl::StrFormat("flush_done mm %d gen %d", d.mm, d.tlb_gen);
}

// The arguments of the kinds whose slice is named by the kind.
Json KindArgs(const CEvent& e) {
  switch (e.kind) {
    case Kind::kCr3Write:
      return JsonObject(2)
          .Add("cr3", Hex(e.cr3.new_cr3))
          .Add("noflush", Flag(e.cr3.noflush))
          .json();
    case Kind::kInvlpg:
      return JsonObject(1).Add("address", Hex(e.invlpg.address)).json();
    case Kind::kInvpcid:
      return JsonObject(2)
          .Add("type", e.invpcid.type)
          .Add("address", Hex(e.invpcid.address))
          .json();
    case Kind::kIpiSent:
      return JsonObject(2)
          .Add("targets", Hex(e.ipi_sent.targets))
          .Add("vector", e.ipi_sent.vector)
          .json();
    case Kind::kIpiReceived:
      return JsonObject(1).Add("vector", e.ipi_received.vector).json();
    case Kind::kUserEnter:
      return JsonObject(3)
          .Add("mm", e.user_enter.mm)
          .Add("local_gen", e.user_enter.local_gen)
          .Add("mm_gen", e.user_enter.mm_gen)
          .json();
    case Kind::kPageTableFree:
      return JsonObject(4)
          .Add("mm", e.pt_free.mm)
          .Add("table", Hex(e.pt_free.table_address))
          .Add("level", e.pt_free.level)
          .Add("covering_tlb_gen", e.pt_free.covering_tlb_gen)
          .json();
    case Kind::kGatherEnd:
      return JsonObject(5)
          .Add("mm", e.gather_end.mm)
          .Add("flushed_start", Hex(e.gather_end.flushed_start))
          .Add("flushed_end", Hex(e.gather_end.flushed_end))
          .Add("nested", Flag(e.gather_end.nested))
          .Add("freed_tables", Flag(e.gather_end.freed_tables))
          .json();
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
  Emit(JsonObject(5)
           .Add("ph", "M")
           .Add("pid", kPid)
           .Add("tid", tid)
           .Add("name", name)
           .Add("args", JsonObject(1).Add(key, std::move(value)).json())
           .json());
}

void PerfettoWriter::Slice(uint32_t vcpu, const CEvent& e, int64_t dur_ns, const std::string& name,
                           Json args) {
  JsonObject a(args.size() + 1);
  a.Add("seq", e.seq);
  for (auto& [k, v] : args.get_ref<Json::object_t&>()) a.Add(k.c_str(), std::move(v));
  Emit(JsonObject(8)
           .Add("ph", "X")
           .Add("pid", kPid)
           .Add("tid", vcpu)
           .Add("ts", Us(e.host_ns))
           .Add("dur", static_cast<double>(dur_ns) / 1000.0)
           .Add("name", name)
           .Add("cat", KindName(e.kind))
           .Add("args", std::move(a.json()))
           .json());
}

void PerfettoWriter::Flow(char phase, const char* cat, uint64_t id, uint32_t vcpu, int64_t ns) {
  Emit(JsonObject(8)
           .Add("ph", std::string(1, phase))
           .Add("bp", "e")
           .Add("pid", kPid)
           .Add("tid", vcpu)
           .Add("ts", Us(ns))
           .Add("id", id)
           .Add("name", cat)
           .Add("cat", cat)
           .json());
}

void PerfettoWriter::Counter(const std::string& name, int64_t ns, uint64_t value) {
  Emit(JsonObject(5)
           .Add("ph", "C")
           .Add("pid", kPid)
           .Add("ts", Us(ns))
           .Add("name", name)
           .Add("args", JsonObject(1).Add("value", value).json())
           .json());
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
  Emit(JsonObject(8)
           .Add("ph", "i")
           .Add("s", "g")
           .Add("pid", kPid)
           .Add("tid", 0)
           .Add("ts", timeline_.started() ? Us(timeline_.last_ns()) : 0.0)
           .Add("name", "VIOLATION " + v.invariant)
           .Add("cat", "violation")
           .Add("args", JsonObject(4)
                            .Add("message", v.message)
                            .Add("mm", v.mm)
                            .Add("first_seq", v.first_seq)
                            .Add("last_seq", v.last_seq)
                            .json())
           .json());
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
