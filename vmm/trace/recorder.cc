#include "vmm/trace/recorder.h"

#include <google/protobuf/util/delimited_message_util.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/output_file.h"

namespace tlbscope {

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Create(const std::string& path,
                                                           const v1::TraceHeader& header) {
  if (absl::Status s = CheckOutputPath("--record", path); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--record %s: %s", path, std::strerror(errno)));
  }
  std::unique_ptr<Recorder> r(new Recorder(path, std::move(out)));
  v1::TraceRecord rec;
  *rec.mutable_header() = header;
  if (!r->Write(rec)) {
    return absl::InvalidArgumentError(absl::StrFormat("--record %s: write failed", path));
  }
  r->out_.flush();
  return r;
}

bool Recorder::Write(const v1::TraceRecord& r) {
  ok_ = ok_ && google::protobuf::util::SerializeDelimitedToOstream(r, &out_);
  return ok_;
}

void Recorder::OnEvents(const std::vector<v1::Event>& events) {
  v1::TraceRecord rec;
  for (const v1::Event& e : events) {
    *rec.mutable_event() = e;
    Write(rec);
  }
  out_.flush();
  ok_ = ok_ && out_.good();
}

void Recorder::OnEnd(const v1::TraceEnd& end) {
  v1::TraceRecord rec;
  *rec.mutable_end() = end;
  Write(rec);
  out_.flush();
  ok_ = ok_ && out_.good();
}

}  // namespace tlbscope
