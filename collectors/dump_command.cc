#include "collectors/dump_command.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect {

absl::Status DumpTrace(const std::string& path, uint64_t from, uint64_t to, FILE* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrFormat("trace %s: %s", path, std::strerror(errno)));
  }
  absl::Status status;
  {
    google::protobuf::io::FileInputStream in(fd);
    for (uint64_t n = 0;; ++n) {
      v1::TraceRecord rec;
      bool eof = false;
      int64_t offset = in.ByteCount();
      if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&rec, &in, &eof)) {
        if (!eof) {
          status = absl::InvalidArgumentError(absl::StrFormat(
              "trace %s: record %d at byte %d is truncated or corrupt", path, n, offset));
        }
        break;
      }
      if (rec.has_event()) {
        const v1::Event& e = rec.event();
        if (e.sequence() < from || e.sequence() > to) continue;
        std::fprintf(out, "%llu vcpu %u: %s\n", static_cast<unsigned long long>(e.sequence()),
                     e.vcpu(), e.ShortDebugString().c_str());
      } else if (from == 0) {
        std::fprintf(out, "%s\n", rec.ShortDebugString().c_str());
      }
    }
  }
  ::close(fd);
  return status;
}

}  // namespace tlbscope::collect
