#include "collectors/perfetto_proto_export.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/output_file.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace tlbscope::collect {
namespace {

namespace pp = ::perfetto::protos;

constexpr uint32_t kSequence = 1;       // every packet is on one sequence
constexpr uint32_t kClockBoottime = 6;  // Perfetto's BUILTIN_CLOCK_BOOTTIME
constexpr int kTracePacketField = 1;    // Trace.packet
constexpr size_t kFlushBytes = 1 << 16;

}  // namespace

absl::StatusOr<std::unique_ptr<PerfettoProtoWriter>> PerfettoProtoWriter::Create(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Open("--perfetto", path);
  if (!out.ok()) return out.status();
  return std::unique_ptr<PerfettoProtoWriter>(new PerfettoProtoWriter(std::move(*out)));
}

PerfettoProtoWriter::PerfettoProtoWriter(std::unique_ptr<OutputFile> out) : out_(std::move(out)) {
  pp::TrackDescriptor* d = Packet(0).mutable_track_descriptor();
  packet_.clear_timestamp();
  packet_.clear_timestamp_clock_id();
  d->set_uuid(kProcessTrack);
  d->set_name("tlbscope guest");
  d->mutable_process()->set_pid(1);
  d->mutable_process()->set_process_name("tlbscope guest");
  Write();
}

PerfettoProtoWriter::~PerfettoProtoWriter() {
  if (!closed_) (void)Close();
}

pp::TracePacket& PerfettoProtoWriter::Packet(int64_t ns) {
  packet_.Clear();
  packet_.set_timestamp(static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
  packet_.set_timestamp_clock_id(kClockBoottime);
  packet_.set_trusted_packet_sequence_id(kSequence);
  if (first_packet_) {
    packet_.set_sequence_flags(pp::TracePacket::SEQ_INCREMENTAL_STATE_CLEARED);
    first_packet_ = false;
  }
  return packet_;
}

void PerfettoProtoWriter::Write() {
  // Trace.packet (field 1, length-delimited), as Perfetto writes its files.
  google::protobuf::io::StringOutputStream out(&buf_);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.WriteTag(static_cast<uint32_t>(kTracePacketField << 3 | 2));
  coded.WriteVarint32(static_cast<uint32_t>(packet_.ByteSizeLong()));
  packet_.SerializeWithCachedSizes(&coded);
  coded.Trim();
  if (buf_.size() > kFlushBytes) Pump();
}

void PerfettoProtoWriter::Pump() {
  if (buf_.empty()) return;
  out_->Write(buf_.data(), buf_.size());  // the first error is kept for Close
  buf_.clear();
}

void PerfettoProtoWriter::NewVcpu(uint32_t v) {
  pp::TrackDescriptor* d = Packet(timeline_.last_ns()).mutable_track_descriptor();
  d->set_uuid(VcpuTrack(v));
  d->set_parent_uuid(kProcessTrack);
  d->set_name(absl::StrFormat("vCPU %d", v));
  d->mutable_thread()->set_pid(1);
  d->mutable_thread()->set_tid(static_cast<int32_t>(v) + 2);  // tids 0 and 1 are special
  d->mutable_thread()->set_thread_name(absl::StrFormat("vCPU %d", v));
  Write();
  CounterTrack(VcpuGenTrack(v), absl::StrFormat("vCPU %d local gen", v));
}

void PerfettoProtoWriter::CounterTrack(uint64_t uuid, const std::string& name) {
  if (!counter_tracks_.insert(uuid).second) return;
  pp::TrackDescriptor* d = Packet(timeline_.last_ns()).mutable_track_descriptor();
  d->set_uuid(uuid);
  d->set_parent_uuid(kProcessTrack);
  d->set_name(name);
  d->mutable_counter()->set_unit(pp::CounterDescriptor::UNIT_COUNT);
  d->mutable_counter()->add_categories("tlb_gen");
  Write();
}

void PerfettoProtoWriter::Counter(uint64_t uuid, int64_t ns, uint64_t value) {
  pp::TrackEvent* t = Packet(ns).mutable_track_event();
  t->set_type(pp::TrackEvent::TYPE_COUNTER);
  t->set_track_uuid(uuid);
  t->set_counter_value(static_cast<int64_t>(value));
  Write();
}

void PerfettoProtoWriter::Slice(uint32_t v, const CEvent& e, int64_t dur_ns,
                                const std::string& name, Json args) {
  pp::TrackEvent* t = Packet(e.host_ns).mutable_track_event();
  t->set_type(pp::TrackEvent::TYPE_SLICE_BEGIN);
  t->set_track_uuid(VcpuTrack(v));
  t->set_name(name);
  t->add_categories(KindName(e.kind));
  pp::DebugAnnotation* seq = t->add_debug_annotations();
  seq->set_name("seq");
  seq->set_uint_value(e.seq);
  if (!args.empty()) {
    pp::DebugAnnotation* a = t->add_debug_annotations();
    a->set_name("event");
    a->set_legacy_json_value(DumpJson(args));
  }
  Write();
  pp::TrackEvent* end = Packet(e.host_ns + dur_ns).mutable_track_event();
  end->set_type(pp::TrackEvent::TYPE_SLICE_END);
  end->set_track_uuid(VcpuTrack(v));
  Write();
}

void PerfettoProtoWriter::FlowStep(const FlowTracker::Flow& f, size_t i) {
  const FlowTracker::Step& s = f.steps[i];
  pp::TrackEvent* t = Packet(s.ns).mutable_track_event();
  t->set_type(pp::TrackEvent::TYPE_INSTANT);
  t->set_track_uuid(VcpuTrack(s.vcpu));
  t->set_name(FlowTracker::Name(f.kind));
  t->add_categories("flow");
  if (i + 1 == f.steps.size()) {
    t->add_terminating_flow_ids(FlowId(f));
  } else {
    t->add_flow_ids(FlowId(f));
  }
  Write();
}

void PerfettoProtoWriter::OnEvent(const CEvent& e, const StateModel& after,
                                  const ApplyNotes& notes) {
  timeline_.OnEvent(e, after, notes);
}

void PerfettoProtoWriter::MmGen(uint64_t mm, int64_t ns, uint64_t tlb_gen) {
  CounterTrack(MmGenTrack(mm), absl::StrFormat("mm %d tlb_gen", mm));
  Counter(MmGenTrack(mm), ns, tlb_gen);
}

void PerfettoProtoWriter::VcpuGen(uint32_t v, int64_t ns, uint64_t local_gen) {
  Counter(VcpuGenTrack(v), ns, local_gen);
}

void PerfettoProtoWriter::OnViolation(const Violation& v) {
  pp::TrackEvent* t = Packet(timeline_.last_ns()).mutable_track_event();
  t->set_type(pp::TrackEvent::TYPE_INSTANT);
  t->set_track_uuid(kProcessTrack);
  t->set_name("VIOLATION " + v.invariant);
  t->add_categories("violation");
  auto annotate = [&](const char* name) {
    pp::DebugAnnotation* a = t->add_debug_annotations();
    a->set_name(name);
    return a;
  };
  annotate("message")->set_string_value(v.message);
  annotate("mm")->set_uint_value(v.mm);
  annotate("first_seq")->set_uint_value(v.first_seq);
  annotate("last_seq")->set_uint_value(v.last_seq);
  Write();
}

absl::Status PerfettoProtoWriter::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  timeline_.Finish();
  Pump();
  return out_->Close();
}

}  // namespace tlbscope::collect
