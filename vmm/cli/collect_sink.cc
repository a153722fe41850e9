#include "vmm/cli/collect_sink.h"

#include <cstdio>

#include "absl/strings/strip.h"
#include "collectors/terminal.h"
#include "collectors/violation.h"
#include "common/log.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope {

absl::Status CollectSink::ExportPerfetto(const std::string& path, collect::PerfettoFormat format) {
  absl::StatusOr<std::unique_ptr<collect::PerfettoExport>> w =
      collect::CreatePerfettoExport(path, format);
  if (!w.ok()) return w.status();
  perfetto_ = std::move(*w);
  c_.AddObserver(perfetto_.get());
  return absl::OkStatus();
}

void CollectSink::OnEvents(const std::vector<v1::Event>& events) {
  if (!hooked_) {
    hooked_ = true;
    c_.OnViolation([this](const collect::Violation& v) {
      std::string line = collect::FormatViolationLine(v, "tlbscope: ");
      if (printer_) {
        printer_(line);
      } else {
        LogLine(absl::StripSuffix(line, "\n"));
      }
    });
  }
  for (const v1::Event& e : events) c_.Observe(e);
}

void CollectSink::OnEnd(const v1::TraceEnd& end) {
  c_.SetEnd(end);
  c_.Finish(true);
}

absl::Status CollectSink::Finish() {
  c_.Finish(c_.end().has_value());
  if (perfetto_) return perfetto_->Close();
  return absl::OkStatus();
}

v1::CollectorVerdict CollectSink::Verdict() const {
  v1::CollectorVerdict v;
  v.set_enabled(true);
  v.set_verdict(c_.violation_count() == 0 ? "clean" : "violations");
  v.set_violations(c_.violation_count());
  v.set_events(c_.events());
  for (const auto& [name, n] : c_.per_invariant()) (*v.mutable_per_invariant())[name] = n;
  for (const auto& [name, why] : c_.not_checked()) (*v.mutable_not_checked())[name] = why;
  for (const collect::Violation& x : c_.violations()) *v.add_found() = collect::ViolationToProto(x);
  return v;
}

}  // namespace tlbscope
