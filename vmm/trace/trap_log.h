#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// One line per trapped instruction: "vcpu 1 #7 mov-cr3 rip 0x1000e0
// tlb_write_cr3+0 [hw-breakpoint+emulate, emulated] cr3 0x1000 -> 0x5000 (...)".
// Empty for events that are not trapped instructions.
std::string FormatTrapEvent(const v1::Event& e);

// --trap-log FILE: a sink that writes FormatTrapEvent lines as events flow.
class TrapLogWriter : public EventSink {
 public:
  static absl::StatusOr<std::unique_ptr<TrapLogWriter>> Create(const std::string& path);
  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd&) override { out_.flush(); }
  // False once a write (or the final flush) failed.
  bool ok() const { return out_.good(); }

 private:
  explicit TrapLogWriter(std::ofstream out) : out_(std::move(out)) {}
  std::ofstream out_;
};

}  // namespace tlbscope
