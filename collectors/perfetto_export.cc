#include "collectors/perfetto_export.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "collectors/json_writer.h"
#include "collectors/perfetto_proto_export.h"
#include "common/output_file.h"

namespace tlbscope::collect {
namespace {

constexpr int kPid = 1;

}  // namespace

std::string DescribeEvent(const CEvent& e, std::string* args) {
  auto hex = [](uint64_t v) { return absl::StrFormat("\"%#x\"", v); };
  switch (e.kind) {
    case Kind::kCr3Write:
      *args = absl::StrFormat("\"cr3\":%s,\"noflush\":%d", hex(e.cr3.new_cr3), e.cr3.noflush);
      return "mov cr3";
    case Kind::kInvlpg:
      *args = absl::StrFormat("\"address\":%s", hex(e.invlpg.address));
      return "invlpg";
    case Kind::kInvpcid:
      *args = absl::StrFormat("\"type\":%d,\"address\":%s", e.invpcid.type, hex(e.invpcid.address));
      return "invpcid";
    case Kind::kFlushRequest: {
      const FlushRequestF& r = e.flush_request;
      *args = absl::StrFormat(
          "\"mm\":%d,\"start\":%s,\"end\":%s,\"new_tlb_gen\":%d,"
          "\"freed_tables\":%d,\"targets\":%s",
          r.mm, hex(r.start), hex(r.end), r.new_tlb_gen, r.freed_tables, hex(r.targets));
      return absl::StrFormat("flush_request mm %d gen %d%s", r.mm, r.new_tlb_gen,
                             r.end == kFlushAll ? " full" : "");
    }
    case Kind::kFlushFunc: {
      const FlushFuncF& f = e.flush_func;
      *args = absl::StrFormat(
          "\"mm\":%d,\"local_gen_before\":%d,\"local_gen_after\":%d,"
          "\"mm_gen\":%d,\"full\":%d,\"lazy_left\":%d,\"not_loaded\":%d",
          f.mm, f.local_gen_before, f.local_gen_after, f.mm_gen, f.full, f.lazy_left, f.not_loaded);
      return absl::StrFormat("flush_tlb_func mm %d %d->%d", f.mm, f.local_gen_before,
                             f.local_gen_after);
    }
    case Kind::kContextSwitch:
      *args = absl::StrFormat(
          "\"prev_mm\":%d,\"next_mm\":%d,\"cr3\":%s,\"was_lazy\":%d,"
          "\"reload\":%d,\"raw\":%d,\"cpu_lam\":%s",
          e.cs.prev_mm, e.cs.next_mm, hex(e.cs.cr3), e.cs.was_lazy, e.cs.reload, e.cs.raw,
          hex(e.cs.cpu_lam));
      return absl::StrFormat("switch_mm %d->%d", e.cs.prev_mm, e.cs.next_mm);
    case Kind::kFlushDone:
      *args = absl::StrFormat("\"mm\":%d,\"tlb_gen\":%d,\"acked\":%s", e.flush_done.mm,
                              e.flush_done.tlb_gen, hex(e.flush_done.acked));
      return absl::StrFormat("flush_done mm %d gen %d", e.flush_done.mm, e.flush_done.tlb_gen);
    case Kind::kIpiSent:
      *args = absl::StrFormat("\"targets\":%s,\"vector\":%d", hex(e.ipi_sent.targets),
                              e.ipi_sent.vector);
      return "ipi_sent";
    case Kind::kIpiReceived:
      *args = absl::StrFormat("\"vector\":%d", e.ipi_received.vector);
      return "ipi_received";
    case Kind::kUserEnter:
      *args = absl::StrFormat("\"mm\":%d,\"local_gen\":%d,\"mm_gen\":%d", e.user_enter.mm,
                              e.user_enter.local_gen, e.user_enter.mm_gen);
      return "user_enter";
    case Kind::kPageTableFree:
      *args = absl::StrFormat("\"mm\":%d,\"table\":%s,\"level\":%d,\"covering_tlb_gen\":%d",
                              e.pt_free.mm, hex(e.pt_free.table_address), e.pt_free.level,
                              e.pt_free.covering_tlb_gen);
      return "page_table_free";
    case Kind::kGatherEnd:
      *args = absl::StrFormat(
          "\"mm\":%d,\"flushed_start\":%s,\"flushed_end\":%s,\"nested\":%d,"
          "\"freed_tables\":%d",
          e.gather_end.mm, hex(e.gather_end.flushed_start), hex(e.gather_end.flushed_end),
          e.gather_end.nested, e.gather_end.freed_tables);
      return "gather_end";
    default:
      return KindName(e.kind);
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
  Emit(absl::StrFormat(
      "{\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":"
      "\"tlbscope guest\"}}",
      kPid));
}

PerfettoWriter::~PerfettoWriter() {
  if (!closed_) (void)Close();
}

void PerfettoWriter::Emit(const std::string& json) {
  if (!first_) buf_ += ",\n";
  first_ = false;
  buf_ += json;
  if (buf_.size() > (1 << 16)) Pump();
}

void PerfettoWriter::Pump() {
  if (buf_.empty()) return;
  out_->Write(buf_.data(), buf_.size());  // the first error is kept for Close
  buf_.clear();
}

void PerfettoWriter::Slice(uint32_t vcpu, const CEvent& e, int64_t dur_ns, const std::string& name,
                           const std::string& args) {
  std::string n;
  JsonWriter::Escape(name, &n);
  Emit(absl::StrFormat(
      "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"name\":%s,\"cat\":\"%s\","
      "\"args\":{\"seq\":%d%s%s}}",
      kPid, vcpu, Us(e.host_ns), static_cast<double>(dur_ns) / 1000.0, n, KindName(e.kind), e.seq,
      args.empty() ? "" : ",", args));
}

void PerfettoWriter::Flow(char phase, const char* cat, uint64_t id, uint32_t vcpu, int64_t ns) {
  Emit(absl::StrFormat(
      "{\"ph\":\"%c\",\"bp\":\"e\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"id\":%d,\"name\":\"%s\","
      "\"cat\":\"%s\"}",
      phase, kPid, vcpu, Us(ns), id, cat, cat));
}

void PerfettoWriter::Counter(const std::string& name, int64_t ns, uint64_t value) {
  Emit(absl::StrFormat(
      "{\"ph\":\"C\",\"pid\":%d,\"ts\":%.3f,\"name\":\"%s\",\"args\":{\"value\":%d}}", kPid, Us(ns),
      name, value));
}

void PerfettoWriter::OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) {
  timeline_.OnEvent(e, after, notes);
}

void PerfettoWriter::NewVcpu(uint32_t v) {
  Emit(absl::StrFormat(
      "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":\"vCPU "
      "%d\"}}",
      kPid, v, v));
  Emit(
      absl::StrFormat("{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":"
                      "{\"sort_index\":%d}}",
                      kPid, v, v));
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
  std::string name, msg;
  JsonWriter::Escape("VIOLATION " + v.invariant, &name);
  JsonWriter::Escape(v.message, &msg);
  Emit(absl::StrFormat(
      "{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"name\":%s,\"cat\":"
      "\"violation\",\"args\":{\"message\":%s,\"mm\":%d,\"first_seq\":%d,\"last_seq\":%d}}",
      kPid, timeline_.started() ? Us(timeline_.last_ns()) : 0.0, name, msg, v.mm, v.first_seq,
      v.last_seq));
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
