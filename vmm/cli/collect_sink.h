#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "collectors/collector.h"
#include "collectors/perfetto_export.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// `tlbscope run`'s in-process collector: an EventSink on the pipeline that
// feeds the collectors' one code path (collect::Collector), prints each
// violation as it is found, and reports the rebuilt state at the end.
class CollectSink : public EventSink {
 public:
  CollectSink() = default;
  // --collect-perfetto FILE; errors name the file.
  absl::Status ExportPerfetto(const std::string& path,
                              collect::PerfettoFormat format = collect::PerfettoFormat::kAuto);

  void SetTrapping(const collect::Trapping& t) { c_.SetTrapping(t); }
  // Where VIOLATION lines go (default: stderr); set before the run.
  void SetPrinter(std::function<void(const std::string&)> p) { printer_ = std::move(p); }
  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd& end) override;
  // The run's trap plan and event source (which invariants it can check).
  void OnHeader(const v1::TraceHeader& header) override { c_.SetHeader(header); }

  // After the run (the pipeline has finished): closes the Perfetto file.
  absl::Status Finish();
  const collect::Collector& collector() const { return c_; }
  v1::CollectorVerdict Verdict() const;

 private:
  collect::Collector c_;
  std::unique_ptr<collect::PerfettoExport> perfetto_;
  bool hooked_ = false;
  std::function<void(const std::string&)> printer_;
};

}  // namespace tlbscope
