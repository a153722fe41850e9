#include "collectors/trace_decoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "collectors/wire_decode.h"

namespace tlbscope::collect {
namespace {

constexpr uint32_t kSchemaVersion = 1;
constexpr size_t kBuffer = 1 << 20;
constexpr uint64_t kMaxRecord = 64ull << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

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

}  // namespace

absl::StatusOr<TraceFileInfo> DecodeTraceFile(
    const std::string& path, const std::function<void(const v1::TraceHeader&)>& on_header,
    const std::function<void(const CEvent&)>& on_event) {
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrFormat("trace %s: %s", path, what));
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return bad(std::strerror(errno));
  size_t buffer = kBuffer;
  if (struct stat st; ::fstat(fd.get(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return bad("is a directory, not a trace file");
    if (S_ISREG(st.st_mode)) buffer = static_cast<size_t>(std::min<off_t>(st.st_size, kBuffer));
  }
  Reader in(fd.get(), buffer);
  TraceFileInfo out;
  uint64_t records = 0;
  CEvent e;
  for (;;) {
    uint64_t offset = in.offset();
    if (!in.Ensure(1)) {
      if (in.error() != 0) return bad(std::strerror(in.error()));
      if (records == 0) return bad("empty file, not a tlbscope trace");
      break;
    }
    auto corrupt = [&] {
      return bad(absl::StrFormat("record %d at byte %d is truncated or corrupt", records, offset));
    };
    // The length varint (at most 10 bytes; fewer may remain at the end).
    in.Ensure(10);
    const uint8_t* p = in.data();
    const uint8_t* lim = p + std::min<size_t>(in.available(), 10);
    uint64_t len;
    if (!ReadVarint(p, lim, &len) || len > kMaxRecord) return corrupt();
    size_t hdr = static_cast<size_t>(p - in.data());
    if (!in.Ensure(hdr + len)) return corrupt();
    const uint8_t* r = in.data() + hdr;
    const uint8_t* rend = r + len;
    // TraceRecord: one of header = 1, event = 2, end = 3 (length-delimited).
    uint32_t which = 0;
    const uint8_t* body = nullptr;
    uint64_t body_len = 0;
    while (r < rend) {
      uint64_t tag;
      if (!ReadVarint(r, rend, &tag)) return corrupt();
      uint32_t num = static_cast<uint32_t>(tag >> 3), wire = tag & 7;
      if (wire != 2) {
        uint64_t skip;
        if (wire == 0 && ReadVarint(r, rend, &skip)) continue;
        if (wire == 1 && rend - r >= 8) {
          r += 8;
          continue;
        }
        if (wire == 5 && rend - r >= 4) {
          r += 4;
          continue;
        }
        return corrupt();
      }
      uint64_t l;
      if (!ReadVarint(r, rend, &l) || l > static_cast<uint64_t>(rend - r)) return corrupt();
      if (num >= 1 && num <= 3) {
        which = num;
        body = r;
        body_len = l;
      }
      r += l;
    }
    if (records == 0) {
      if (which != 1) return bad("not a tlbscope trace (the first record is not a header)");
      if (!out.header.ParseFromArray(body, static_cast<int>(body_len))) return corrupt();
      if (out.header.schema_version() != kSchemaVersion) {
        return bad(absl::StrFormat("schema version %d; this tlbscope reads version %d",
                                   out.header.schema_version(), kSchemaVersion));
      }
      if (on_header) on_header(out.header);
    } else if (which == 2) {
      if (out.end) return bad(absl::StrFormat("event after the end record at byte %d", offset));
      if (!DecodeEvent(body, body_len, &e)) return corrupt();
      if (e.seq != out.events) {
        return bad(absl::StrFormat("event at byte %d has sequence %d, expected %d", offset, e.seq,
                                   out.events));
      }
      ++out.events;
      if (on_event) on_event(e);
    } else if (which == 3) {
      v1::TraceEnd end;
      if (!end.ParseFromArray(body, static_cast<int>(body_len))) return corrupt();
      out.end = std::move(end);
    } else {
      return bad(absl::StrFormat("record %d at byte %d is empty", records, offset));
    }
    in.Skip(hdr + len);
    ++records;
  }
  return out;
}

}  // namespace tlbscope::collect
