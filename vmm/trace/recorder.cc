#include "vmm/trace/recorder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <google/protobuf/wire_format_lite.h>

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

// Each event is framed as the TraceRecord it is (varint record size, the
// record's `event` field tag and size, the event's bytes) straight from the
// event: no TraceRecord copy per event.
void Recorder::OnEvents(const std::vector<v1::Event>& events) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr uint32_t kTag = WireFormatLite::MakeTag(v1::TraceRecord::kEventFieldNumber,
                                                    WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  if (!ok_) return;
  {
    google::protobuf::io::OstreamOutputStream raw(&out_);
    CodedOutputStream coded(&raw);
    for (const v1::Event& e : events) {
      size_t size = e.ByteSizeLong();
      size_t record =
          CodedOutputStream::VarintSize32(kTag) + CodedOutputStream::VarintSize64(size) + size;
      coded.WriteVarint64(record);
      coded.WriteTag(kTag);
      coded.WriteVarint64(size);
      e.SerializeWithCachedSizes(&coded);
    }
    ok_ = !coded.HadError();
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
