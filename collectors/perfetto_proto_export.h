#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "collectors/flow_tracker.h"
#include "collectors/perfetto_export.h"
#include "collectors/perfetto_timeline.h"
#include "common/output_file.h"
#include "perfetto/perfetto_trace.pb.h"

namespace tlbscope::collect {

// --perfetto FILE in Perfetto's native format: a perfetto.protos.Trace
// (proto/perfetto/perfetto_trace.proto, Perfetto's field numbers), one
// TracePacket at a time. Tracks: a process "tlbscope guest", a thread track
// per vCPU with a slice per event (begin/end; the event's fields as debug
// annotations), a counter track per mm (tlb_gen) and per vCPU (local gen),
// violations as instants on the process track. Flows (FlowTracker):
// request -> IPI -> flush_tlb_func ("shootdown"), flush_tlb_func ->
// flush_done ("ack"), as instant events carrying flow_ids, the last one
// terminating_flow_ids; written once complete, so every flow that starts
// ends. Memory does not grow with the trace.
class PerfettoProtoWriter : public PerfettoExport, private TimelineSink {
 public:
  static absl::StatusOr<std::unique_ptr<PerfettoProtoWriter>> Create(const std::string& path);
  ~PerfettoProtoWriter() override;

  void OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) override;
  void OnViolation(const Violation& v) override;
  absl::Status Close() override;

  // Track ids (TrackDescriptor.uuid).
  static constexpr uint64_t kProcessTrack = 1;
  static uint64_t VcpuTrack(uint32_t v) { return (1ull << 60) | v; }
  static uint64_t VcpuGenTrack(uint32_t v) { return (1ull << 61) | v; }
  static uint64_t MmGenTrack(uint64_t mm) { return (1ull << 62) | (mm & ((1ull << 62) - 1)); }
  // Flow ids: unique per (request, target, kind) across the trace.
  static uint64_t FlowId(const FlowTracker::Flow& f) {
    return (f.id << 1) | (f.kind == FlowTracker::FlowKind::kAck ? 1 : 0);
  }

 private:
  explicit PerfettoProtoWriter(std::unique_ptr<OutputFile> out);
  perfetto::protos::TracePacket& Packet(int64_t ns);  // a fresh packet, written by Write()
  void Write();
  void Pump();
  // TimelineSink: what the shared timeline draws, as TracePackets.
  void NewVcpu(uint32_t v) override;
  void CounterTrack(uint64_t uuid, const std::string& name);
  void Counter(uint64_t uuid, int64_t ns, uint64_t value);
  void Slice(uint32_t v, const CEvent& e, int64_t dur_ns, const std::string& name,
             Json args) override;
  void FlowStep(const FlowTracker::Flow& f, size_t i) override;
  void MmGen(uint64_t mm, int64_t ns, uint64_t tlb_gen) override;
  void VcpuGen(uint32_t v, int64_t ns, uint64_t local_gen) override;

  std::unique_ptr<OutputFile> out_;  // the output-file policy: common/output_file.h
  std::string buf_;
  perfetto::protos::TracePacket packet_;
  bool first_packet_ = true, closed_ = false;
  absl::flat_hash_set<uint64_t> counter_tracks_;
  Timeline timeline_{this};
};

}  // namespace tlbscope::collect
