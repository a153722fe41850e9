#include "vmm/trace/recorder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <google/protobuf/wire_format_lite.h>

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Create(const std::string& path,
                                                           const v1::TraceHeader& header) {
  absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Open("--record", path);
  if (!out.ok()) return absl::InvalidArgumentError(out.status().message());
  std::unique_ptr<Recorder> r(new Recorder(path, std::move(*out)));
  v1::TraceRecord rec;
  *rec.mutable_header() = header;
  if (!r->Write(rec)) return absl::InvalidArgumentError(r->status().message());
  return r;
}

bool Recorder::Write(const v1::TraceRecord& r) {
  buffer_.clear();
  {
    google::protobuf::io::StringOutputStream raw(&buffer_);
    google::protobuf::util::SerializeDelimitedToZeroCopyStream(r, &raw);
  }
  return WriteBuffer();
}

bool Recorder::WriteBuffer() {
  bool ok = out_->Write(buffer_.data(), buffer_.size()) && out_->Flush();
  buffer_.clear();
  return ok;
}

// Each event is framed as the TraceRecord it is (varint record size, the
// record's `event` field tag and size, the event's bytes) straight from the
// event: no TraceRecord copy per event.
void Recorder::OnEvents(const std::vector<v1::Event>& events) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr uint32_t kTag = WireFormatLite::MakeTag(v1::TraceRecord::kEventFieldNumber,
                                                    WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  if (!ok()) return;
  buffer_.clear();
  {
    google::protobuf::io::StringOutputStream raw(&buffer_);
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
  }
  WriteBuffer();
}

void Recorder::OnEnd(const v1::TraceEnd& end) {
  v1::TraceRecord rec;
  *rec.mutable_end() = end;
  if (Write(rec)) (void)out_->Close();
}

}  // namespace tlbscope
