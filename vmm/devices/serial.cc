#include "vmm/devices/serial.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/output_file.h"

namespace tlbscope {
namespace {
// Register offsets and bits (PC16550D data sheet).
constexpr uint16_t kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                   kScr = 7;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kIirNoInterrupt = 0x01, kIirThre = 0x02, kIirFifoEnabled = 0xc0;
constexpr uint8_t kIerThri = 0x02;
constexpr uint8_t kMsrDcdDsrCts = 0xb0;
}  // namespace

absl::StatusOr<std::unique_ptr<SerialSink>> SerialSink::Create(bool to_stdout,
                                                               const std::string& log_path) {
  UniqueFile log;
  if (!log_path.empty()) {
    if (absl::Status s = CheckOutputPath("--serial-log", log_path); !s.ok()) {
      return absl::InvalidArgumentError(s.message());
    }
    log.reset(std::fopen(log_path.c_str(), "we"));
    if (log == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--serial-log %s: %s", log_path, std::strerror(errno)));
    }
  }
  return std::unique_ptr<SerialSink>(new SerialSink(to_stdout, std::move(log)));
}

SerialSink::~SerialSink() { Flush(); }

std::optional<std::string> SerialSink::Put(uint8_t c) {
  transcript_.push_back(static_cast<char>(c));
  if (log_ != nullptr && std::fputc(c, log_.get()) == EOF) log_ok_ = false;
  if (to_stdout_) line_.push_back(static_cast<char>(c));
  if (c == '\n') Flush();
  if (!watch_panic_) return std::nullopt;
  if (c != '\n') {
    if (watched_.size() < kMaxWatchedLine) watched_.push_back(static_cast<char>(c));
    return std::nullopt;
  }
  std::string line = std::move(watched_);
  watched_.clear();
  // Linux's panic() ends its output with this line (after the stack dump).
  static constexpr std::string_view kEnd = "---[ end Kernel panic - not syncing: ";
  size_t at = line.find(kEnd);
  if (at == std::string::npos) return std::nullopt;
  std::string why = line.substr(at + kEnd.size());
  if (size_t close = why.rfind(" ]---"); close != std::string::npos) why.resize(close);
  for (char& ch : why) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
  }
  return "Kernel panic - not syncing: " + why;
}

void SerialSink::Flush() {
  if (!line_.empty()) {
    if (writer_) {
      writer_(line_);
    } else {
      std::fwrite(line_.data(), 1, line_.size(), stdout);
      std::fflush(stdout);
    }
    line_.clear();
  }
  if (log_ != nullptr && std::fflush(log_.get()) != 0) log_ok_ = false;
}

uint8_t Serial16550::Iir() const {
  uint8_t fifo = (fcr_ & 1) ? kIirFifoEnabled : 0;
  if ((ier_ & kIerThri) && thr_pending_) return kIirThre | fifo;
  return kIirNoInterrupt | fifo;
}

void Serial16550::UpdateIrq() {
  bool level = !(Iir() & kIirNoInterrupt);
  if (level == line_ || !irq_) return;
  line_ = level;
  irq_(level);
}

IoOutcome Serial16550::Write(int, uint16_t port, std::span<const uint8_t> data) {
  uint8_t v = data[0];
  switch (port - base_) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        dll_ = v;
      } else {
        if (std::optional<std::string> panic = sink_->Put(v)) {
          thr_pending_ = false;
          UpdateIrq();
          thr_pending_ = true;
          return StopRequest{StopReason::kGuestPanic, 0, "the guest kernel panicked: " + *panic};
        }
        // Sent at once: THR is empty again, a new interrupt (edge).
        thr_pending_ = false;
        UpdateIrq();
        thr_pending_ = true;
      }
      break;
    case kIer:
      if (lcr_ & kLcrDlab) {
        dlm_ = v;
      } else {
        // Enabling the THR interrupt with THR empty raises it at once.
        if ((v & kIerThri) && !(ier_ & kIerThri)) thr_pending_ = true;
        ier_ = v & 0x0f;
      }
      break;
    case kIirFcr:
      fcr_ = v;
      break;
    case kLcr:
      lcr_ = v;
      break;
    case kMcr:
      mcr_ = v & 0x1f;
      break;
    case kScr:
      scr_ = v;
      break;
    default:  // LSR and MSR are read-only; writes are ignored as on hardware
      break;
  }
  UpdateIrq();
  return std::nullopt;
}

IoOutcome Serial16550::Read(int, uint16_t port, std::span<uint8_t> data) {
  uint8_t v = 0;
  switch (port - base_) {
    case kRbrThr:
      v = (lcr_ & kLcrDlab) ? dll_ : 0;
      break;
    case kIer:
      v = (lcr_ & kLcrDlab) ? dlm_ : ier_;
      break;
    case kIirFcr:
      v = Iir();
      if ((v & 0x0f) == kIirThre) thr_pending_ = false;  // reading IIR acknowledges it
      break;
    case kLcr:
      v = lcr_;
      break;
    case kMcr:
      v = mcr_;
      break;
    case kLsr:
      v = kLsrThre | kLsrTemt;
      break;
    case kMsr:
      v = kMsrDcdDsrCts;
      break;
    case kScr:
      v = scr_;
      break;
  }
  std::memset(data.data(), 0, data.size());
  data[0] = v;
  UpdateIrq();
  return std::nullopt;
}

}  // namespace tlbscope
