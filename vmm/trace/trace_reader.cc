#include "vmm/trace/trace_reader.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/unique_fd.h"

namespace tlbscope {

absl::StatusOr<TraceSummary> ReadTrace(const std::string& path,
                                       const std::function<void(const v1::Event&)>& on_event) {
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrFormat("trace %s: %s", path, what));
  };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return bad(std::strerror(errno));
  if (struct stat st; ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return bad("is a directory, not a trace file");
  }
  google::protobuf::io::FileInputStream in(fd.get());
  TraceSummary out;
  uint64_t records = 0;
  for (;;) {
    v1::TraceRecord rec;
    bool clean_eof = false;
    int64_t offset = in.ByteCount();
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&rec, &in, &clean_eof)) {
      if (clean_eof && records > 0) break;
      if (clean_eof) return bad("empty file, not a tlbscope trace");
      return bad(absl::StrFormat("record %d at byte %d is truncated or corrupt", records, offset));
    }
    if (records == 0) {
      if (!rec.has_header()) return bad("not a tlbscope trace (the first record is not a header)");
      if (rec.header().schema_version() != kTraceSchemaVersion) {
        return bad(absl::StrFormat("schema version %d; this tlbscope reads version %d",
                                   rec.header().schema_version(), kTraceSchemaVersion));
      }
      out.header = rec.header();
    } else if (rec.has_event()) {
      if (out.end) return bad(absl::StrFormat("event after the end record at byte %d", offset));
      if (rec.event().sequence() != out.events) {
        return bad(absl::StrFormat("event at byte %d has sequence %d, expected %d", offset,
                                   rec.event().sequence(), out.events));
      }
      ++out.events;
      if (on_event) on_event(rec.event());
    } else if (rec.has_end()) {
      out.end = rec.end();
    } else {
      return bad(absl::StrFormat("record %d at byte %d is empty", records, offset));
    }
    ++records;
  }
  return out;
}

}  // namespace tlbscope
