#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/unique_file.h"
#include "vmm/vcpu/io_bus.h"

namespace tlbscope {

// Where the guest's serial output goes: stdout (line-buffered, so vCPUs'
// lines are not torn) and/or a log file written through on every line.
class SerialSink {
 public:
  static absl::StatusOr<std::unique_ptr<SerialSink>> Create(bool to_stdout,
                                                            const std::string& log_path);
  ~SerialSink();
  // The line just completed by `c` when it ends a Linux kernel panic
  // ("---[ end Kernel panic - not syncing: WHY ]---") and WatchLinuxPanic()
  // was called: the panic, in one line ("Kernel panic - not syncing: WHY").
  std::optional<std::string> Put(uint8_t c);
  void WatchLinuxPanic() { watch_panic_ = true; }
  void Flush();
  const std::string& transcript() const { return transcript_; }
  // Where whole console lines for stdout go instead (the status line's
  // printer); set before the guest runs.
  void SetWriter(std::function<void(const std::string&)> w) { writer_ = std::move(w); }
  // False once a write to the --serial-log file failed.
  bool log_ok() const { return log_ok_; }

 private:
  SerialSink(bool to_stdout, UniqueFile log) : to_stdout_(to_stdout), log_(std::move(log)) {}
  bool to_stdout_;
  UniqueFile log_;
  bool log_ok_ = true;
  std::string line_;
  static constexpr size_t kMaxWatchedLine = 512;  // a longer line is cut: the guest's
  bool watch_panic_ = false;
  std::string watched_;     // the line being written, bounded, for the watch
  std::string transcript_;  // everything, for the results file and tests
  std::function<void(const std::string&)> writer_;
};

// A 16550 UART: THR writes go to the sink at once, so LSR always reports
// an empty transmitter; no input. With an IRQ line set, the transmitter-
// empty interrupt (IER bit 1) is raised as a driver expects it: pending
// when THR empties, cleared by reading IIR or writing THR (QEMU's model).
// The line follows "an interrupt is pending", so the ISA IRQ sees an edge
// each time one becomes pending.
class Serial16550 : public IoDevice {
 public:
  using IrqLine = std::function<void(bool level)>;
  Serial16550(uint16_t base, SerialSink* sink, IrqLine irq = nullptr)
      : base_(base), sink_(sink), irq_(std::move(irq)) {}
  std::string_view name() const override { return "serial"; }
  IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) override;

 private:
  uint8_t Iir() const;
  void UpdateIrq();
  uint16_t base_;
  SerialSink* sink_;
  IrqLine irq_;
  bool thr_pending_ = false;  // transmitter-empty interrupt waiting
  bool line_ = false;
  uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scr_ = 0, dll_ = 0x0c, dlm_ = 0, fcr_ = 0;
};

}  // namespace tlbscope
