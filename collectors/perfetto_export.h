#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectors/collector.h"
#include "collectors/flow_tracker.h"
#include "collectors/json.h"
#include "collectors/perfetto_timeline.h"
#include "common/output_file.h"

namespace tlbscope::collect {

// A --perfetto FILE writer: fed every event, closed at the end.
class PerfettoExport : public EventObserver {
 public:
  // Ends the file and closes it; errors name it.
  virtual absl::Status Close() = 0;
};

// --perfetto-format: json (Chrome Trace Event JSON), proto (Perfetto's
// native protobuf trace), or auto: json for a FILE ending in .json, proto
// otherwise.
enum class PerfettoFormat { kAuto, kJson, kProto };
absl::StatusOr<PerfettoFormat> ParsePerfettoFormat(const std::string& text);
PerfettoFormat ResolvePerfettoFormat(const std::string& path, PerfettoFormat f);

// The writer for `path` in format `f` (kAuto: by the file name).
absl::StatusOr<std::unique_ptr<PerfettoExport>> CreatePerfettoExport(const std::string& path,
                                                                     PerfettoFormat f);

// A slice's name for an event, and its arguments (a JSON object).
std::string DescribeEvent(const CEvent& e, Json* args);

// --perfetto FILE: Chrome Trace Event JSON that ui.perfetto.dev (and
// chrome://tracing) opens. One track (thread) per vCPU, a slice per event,
// counters for each vCPU's local gen and each mm's tlb_gen, and flows:
// "shootdown" from each flush_request through the IPI to every target's
// flush_tlb_func, "ack" from each target's flush_tlb_func to the
// initiator's flush_done; a flow is written once complete, so none
// dangles (FlowTracker). Violations are global instant events. Written
// as events arrive (memory does not grow with the trace).
class PerfettoWriter : public PerfettoExport, private TimelineSink {
 public:
  static absl::StatusOr<std::unique_ptr<PerfettoWriter>> Create(const std::string& path);
  ~PerfettoWriter() override;

  void OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) override;
  void OnViolation(const Violation& v) override;
  // Ends the JSON and closes the file; errors name it.
  absl::Status Close() override;

 private:
  explicit PerfettoWriter(std::unique_ptr<OutputFile> out);
  // TimelineSink: what the shared timeline draws, in Chrome JSON.
  void NewVcpu(uint32_t v) override;
  void Slice(uint32_t vcpu, const CEvent& e, int64_t dur_ns, const std::string& name,
             Json args) override;
  void Metadata(uint32_t tid, const char* name, const char* key, Json value);
  void FlowStep(const FlowTracker::Flow& f, size_t i) override;
  void MmGen(uint64_t mm, int64_t ns, uint64_t tlb_gen) override;
  void VcpuGen(uint32_t v, int64_t ns, uint64_t local_gen) override;
  void Flow(char phase, const char* cat, uint64_t id, uint32_t vcpu, int64_t ns);
  void Counter(const std::string& name, int64_t ns, uint64_t value);
  void Emit(const Json& event);  // one trace event object
  void Pump();
  double Us(int64_t ns) const { return static_cast<double>(ns - timeline_.first_ns()) / 1000.0; }

  std::unique_ptr<OutputFile> out_;  // the output-file policy: common/output_file.h
  std::string buf_;
  bool first_ = true, closed_ = false;
  Timeline timeline_;
};

}  // namespace tlbscope::collect
