#include "vmm/devices/mark_port.h"

#include <cstring>

#include "tlbscope/v1/trace.pb.h"

namespace tlbscope {

IoOutcome MarkPort::Write(int vcpu, uint16_t, std::span<const uint8_t> data) {
  if (data.empty()) return std::nullopt;
  ++marks_;
  if (trace_ == nullptr) return std::nullopt;
  v1::Event e;
  e.mutable_guest_mark()->set_mark(static_cast<v1::GuestMark::Mark>(data[0]));
  trace_->Append(vcpu, std::move(e));
  return std::nullopt;
}

IoOutcome MarkPort::Read(int, uint16_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0xff, data.size());
  return std::nullopt;
}

}  // namespace tlbscope
