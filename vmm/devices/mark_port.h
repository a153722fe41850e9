#pragma once

#include "vmm/trace/pipeline.h"
#include "vmm/vcpu/io_bus.h"

namespace tlbscope {

// TLBSCOPE_MARK_PORT: a byte written there becomes a GuestMark event in the
// writing vCPU's order, at the exit of the OUT itself (so it falls between
// the events before and after it on that vCPU). guest-linux's /init marks
// its read of /proc/vmstat with it. Any byte is accepted; reads give 0xff.
class MarkPort : public IoDevice {
 public:
  std::string_view name() const override { return "mark-port"; }
  IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) override;

  void SetTrace(TracePipeline* trace) { trace_ = trace; }
  uint64_t marks() const { return marks_; }

 private:
  TracePipeline* trace_ = nullptr;
  uint64_t marks_ = 0;
};

}  // namespace tlbscope
