#include "collectors/perfetto_export.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "collectors/json_writer.h"
#include "collectors/perfetto_proto_export.h"

namespace tlbscope::collect {
namespace {

constexpr int kPid = 1;
constexpr int64_t kSliceNs = 1000;  // slices last 1 us, or until the vCPU's next event

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
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--perfetto %s: %s", path, std::strerror(errno)));
  }
  return std::unique_ptr<PerfettoWriter>(new PerfettoWriter(path, f));
}

PerfettoWriter::PerfettoWriter(std::string path, FILE* f) : path_(std::move(path)), f_(f) {
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
  if (buf_.empty() || f_ == nullptr) return;
  if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) write_error_ = true;
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
  if (e.vcpu >= kMaxVcpus) return;
  if (!have_t0_) {
    t0_ = e.host_ns;
    have_t0_ = true;
  }
  int64_t ns = std::max(e.host_ns, t0_);
  last_ns_ = std::max(last_ns_, ns);
  uint32_t v = e.vcpu;
  if (v >= held_.size()) {
    held_.resize(v + 1);
    named_.resize(v + 1);
  }
  if (!named_[v]) {
    named_[v] = true;
    Emit(absl::StrFormat(
        "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":\"vCPU "
        "%d\"}}",
        kPid, v, v));
    Emit(absl::StrFormat(
        "{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":"
        "{\"sort_index\":%d}}",
        kPid, v, v));
  }
  Held& h = held_[v];
  if (h.valid) {
    int64_t dur = std::clamp<int64_t>(e.host_ns - h.e.host_ns, 0, kSliceNs);
    Slice(v, h.e, dur, h.name, h.args);
  }
  h.valid = true;
  h.e = e;
  h.e.host_ns = ns;
  h.name = DescribeEvent(e, &h.args);

  // Flows: request -> IPI -> flush_tlb_func (shootdown), flush_tlb_func ->
  // flush_done (ack), each written once it is complete.
  done_.clear();
  flows_.OnEvent(e, ns, notes, &done_);
  for (const FlowTracker::Flow& f : done_) {
    const char* cat = FlowTracker::Name(f.kind);
    for (size_t i = 0; i < f.steps.size(); ++i) {
      char phase = i == 0 ? 's' : (i + 1 == f.steps.size() ? 'f' : 't');
      Flow(phase, cat, f.id, f.steps[i].vcpu, f.steps[i].ns);
    }
  }
  switch (e.kind) {
    case Kind::kFlushRequest: {
      const MmModel* m = after.mm(e.flush_request.mm);
      if (m != nullptr) Counter(absl::StrFormat("mm %d tlb_gen", m->ctx_id), ns, m->tlb_gen);
      break;
    }
    case Kind::kFlushFunc:
      if (const VcpuModel* vm = after.vcpu(v); vm != nullptr) {
        Counter(absl::StrFormat("vCPU %d local gen", v), ns, vm->slot().tlb_gen);
      }
      break;
    case Kind::kContextSwitch:
      if (const VcpuModel* vm = after.vcpu(v); vm != nullptr && !e.cs.raw) {
        Counter(absl::StrFormat("vCPU %d local gen", v), ns, vm->slot().tlb_gen);
      }
      break;
    default:
      break;
  }
}

void PerfettoWriter::OnViolation(const Violation& v) {
  std::string name, msg;
  JsonWriter::Escape("VIOLATION " + v.invariant, &name);
  JsonWriter::Escape(v.message, &msg);
  Emit(absl::StrFormat(
      "{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"name\":%s,\"cat\":"
      "\"violation\",\"args\":{\"message\":%s,\"mm\":%d,\"first_seq\":%d,\"last_seq\":%d}}",
      kPid, Us(have_t0_ ? last_ns_ : 0), name, msg, v.mm, v.first_seq, v.last_seq));
}

absl::Status PerfettoWriter::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  for (uint32_t v = 0; v < held_.size(); ++v) {
    if (held_[v].valid) Slice(v, held_[v].e, kSliceNs, held_[v].name, held_[v].args);
  }
  buf_ += "\n]}\n";
  Pump();
  bool ok = std::fclose(f_) == 0 && !write_error_;
  f_ = nullptr;
  if (!ok) return absl::InternalError(absl::StrFormat("--perfetto %s: write failed", path_));
  return absl::OkStatus();
}

}  // namespace tlbscope::collect
