#include "tracefile/trace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/unique_fd.h"
#include "tracefile/varint.h"

namespace tlbscope::tracefile {
namespace {

constexpr size_t kBuffer = 1 << 20;

// A forward-only window over the file.
class Reader {
 public:
  // `size`: the buffer, at most kBuffer (a small file needs no zero-filled MiB).
  Reader(int fd, size_t size) : fd_(fd), buf_(std::clamp<size_t>(size, 4096, kBuffer)) {}
  // Makes at least `n` bytes available from the cursor; false at EOF / error.
  bool Ensure(size_t n) {
    if (end_ - pos_ >= n) return true;
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      offset_ += pos_;
      pos_ = 0;
    }
    if (n > buf_.size()) buf_.resize(n);
    while (end_ < n) {
      ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        error_ = r < 0 ? errno : 0;
        return false;
      }
      end_ += static_cast<size_t>(r);
    }
    return true;
  }
  const uint8_t* data() const { return buf_.data() + pos_; }
  size_t available() const { return end_ - pos_; }
  void Skip(size_t n) { pos_ += n; }
  uint64_t offset() const { return offset_ + pos_; }
  int error() const { return error_; }

 private:
  int fd_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
  int error_ = 0;
};

// TraceRecord: one of header = 1, event = 2, end = 3 (length-delimited).
struct RecordBody {
  uint32_t which = 0;  // 0: none
  const uint8_t* body = nullptr;
  uint64_t len = 0;
};

bool FindRecordBody(const uint8_t* r, const uint8_t* rend, RecordBody* out) {
  while (r < rend) {
    uint64_t tag;
    if (!ReadVarint(r, rend, &tag)) return false;
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = tag & 7;
    if (wire != 2) {
      if (!SkipField(r, rend, wire)) return false;
      continue;
    }
    uint64_t l;
    if (!ReadVarint(r, rend, &l) || l > static_cast<uint64_t>(rend - r)) return false;
    if (num >= 1 && num <= 3) *out = {num, r, l};
    r += l;
  }
  return true;
}

class Scanner {
 public:
  Scanner(const std::string& path, int fd, size_t buffer) : path_(path), in_(fd, buffer) {}

  absl::Status Bad(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrFormat("trace %s: %s", path_, what));
  }

  // The next record's body, or nullopt at a clean end of file (*status
  // says why not, if not clean).
  std::optional<RecordBody> Next(absl::Status* status) {
    offset_ = in_.offset();
    if (!in_.Ensure(1)) {
      if (in_.error() != 0) *status = Bad(std::strerror(in_.error()));
      return std::nullopt;
    }
    in_.Ensure(10);  // the length varint: at most 10 bytes, fewer may remain
    const uint8_t* p = in_.data();
    const uint8_t* lim = p + std::min<size_t>(in_.available(), 10);
    uint64_t len;
    RecordBody rec;
    if (!ReadVarint(p, lim, &len) || len > kMaxRecordBytes) return Corrupt(status);
    size_t hdr = static_cast<size_t>(p - in_.data());
    if (!in_.Ensure(hdr + len)) return Corrupt(status);
    if (!FindRecordBody(in_.data() + hdr, in_.data() + hdr + len, &rec)) return Corrupt(status);
    skip_ = hdr + len;
    return rec;
  }
  void Done() {
    in_.Skip(skip_);
    ++records_;
  }
  std::nullopt_t Corrupt(absl::Status* status) const {
    *status = CorruptStatus();
    return std::nullopt;
  }
  absl::Status CorruptStatus() const {
    return Bad(absl::StrFormat("record %d at byte %d is truncated or corrupt", records_, offset_));
  }
  uint64_t records() const { return records_; }
  uint64_t offset() const { return offset_; }

 private:
  std::string path_;
  Reader in_;
  uint64_t records_ = 0, offset_ = 0;
  size_t skip_ = 0;
};

absl::Status Header(Scanner& s, const RecordBody& rec, TraceSummary& out) {
  if (rec.which != 1) return s.Bad("not a tlbscope trace (the first record is not a header)");
  if (!out.header.ParseFromArray(rec.body, static_cast<int>(rec.len))) return s.CorruptStatus();
  if (out.header.schema_version() != kSchemaVersion) {
    return s.Bad(absl::StrFormat("schema version %d; this tlbscope reads version %d",
                                 out.header.schema_version(), kSchemaVersion));
  }
  return absl::OkStatus();
}

absl::Status Event(Scanner& s, const RecordBody& rec, const EventHandler& h, TraceSummary& out) {
  if (out.end) return s.Bad(absl::StrFormat("event after the end record at byte %d", s.offset()));
  std::optional<uint64_t> seq = h.decode(rec.body, rec.len);
  if (!seq) return s.CorruptStatus();
  if (*seq != out.events) {
    return s.Bad(absl::StrFormat("event at byte %d has sequence %d, expected %d", s.offset(), *seq,
                                 out.events));
  }
  ++out.events;
  h.deliver();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TraceSummary> ScanTrace(const std::string& path,
                                       absl::FunctionRef<void(const v1::TraceHeader&)> on_header,
                                       const EventHandler& on_event) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  int open_errno = errno;
  struct stat st {};
  bool stat_ok = fd.ok() && ::fstat(fd.get(), &st) == 0;
  size_t buffer = stat_ok && S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : kBuffer;
  Scanner s(path, fd.get(), buffer);
  if (!fd.ok()) return s.Bad(std::strerror(open_errno));
  if (stat_ok && S_ISDIR(st.st_mode)) return s.Bad("is a directory, not a trace file");
  TraceSummary out;
  for (;;) {
    absl::Status status;
    std::optional<RecordBody> rec = s.Next(&status);
    if (!status.ok()) return status;
    if (!rec) break;
    if (s.records() == 0) {
      status = Header(s, *rec, out);
      if (status.ok()) on_header(out.header);
    } else if (rec->which == 2) {
      status = Event(s, *rec, on_event, out);
    } else if (rec->which == 3) {
      v1::TraceEnd end;
      if (!end.ParseFromArray(rec->body, static_cast<int>(rec->len))) return s.CorruptStatus();
      out.end = std::move(end);
    } else {
      status = s.Bad(absl::StrFormat("record %d at byte %d is empty", s.records(), s.offset()));
    }
    if (!status.ok()) return status;
    s.Done();
  }
  if (s.records() == 0) return s.Bad("empty file, not a tlbscope trace");
  return out;
}

}  // namespace tlbscope::tracefile
