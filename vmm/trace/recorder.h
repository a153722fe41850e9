#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// --record FILE: length-delimited TraceRecords, header first, flushed after
// every batch so a crash of tlbscope itself loses at most one batch.
class Recorder : public EventSink {
 public:
  // Opens (truncates) `path` and writes the header. Errors name the file.
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(const std::string& path,
                                                          const v1::TraceHeader& header);
  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd& end) override;
  const std::string& path() const { return path_; }
  bool ok() const { return ok_; }

 private:
  Recorder(std::string path, std::ofstream out) : path_(std::move(path)), out_(std::move(out)) {}
  bool Write(const v1::TraceRecord& r);
  std::string path_;
  std::ofstream out_;
  bool ok_ = true;
};

}  // namespace tlbscope
