#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/output_file.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// --record FILE: length-delimited TraceRecords, header first, flushed after
// every batch so a crash of tlbscope itself loses at most one batch.
class Recorder : public EventSink {
 public:
  // Opens (truncates) `path` through the output-file policy (no symlink,
  // device or directory; O_NOFOLLOW) and writes the header. Errors name the
  // file.
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(const std::string& path,
                                                          const v1::TraceHeader& header);
  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd& end) override;
  const std::string& path() const { return path_; }
  bool ok() const { return out_->status().ok(); }
  // The first write error (flag, path, errno), or OK.
  absl::Status status() const { return out_->status(); }

 private:
  Recorder(std::string path, std::unique_ptr<OutputFile> out)
      : path_(std::move(path)), out_(std::move(out)) {}
  bool Write(const v1::TraceRecord& r);
  bool WriteBuffer();
  std::string path_;
  std::unique_ptr<OutputFile> out_;
  std::string buffer_;  // one batch, framed
};

}  // namespace tlbscope
