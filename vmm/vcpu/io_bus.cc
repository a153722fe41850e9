#include "vmm/vcpu/io_bus.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

uint64_t Value(std::span<const uint8_t> data) {
  uint64_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), sizeof(v)));
  return v;
}

StopRequest UnknownPort(bool write, uint16_t port, size_t size, uint64_t value) {
  return StopRequest{
      StopReason::kUnknownPort, 0,
      write ? absl::StrFormat("write of %#x to unknown I/O port %#x (size %d)", value, port, size)
            : absl::StrFormat("read from unknown I/O port %#x (size %d)", port, size)};
}

}  // namespace

void IoBus::Register(uint16_t base, uint16_t count, IoDevice* device) {
  ranges_.push_back({base, count, device});
}

IoDevice* IoBus::Find(uint16_t port) const {
  for (const Range& r : ranges_) {
    if (port >= r.base && port - r.base < r.count) return r.device;
  }
  return nullptr;
}

IoOutcome IoBus::Write(int vcpu, uint16_t port, std::span<const uint8_t> data) {
  IoDevice* d = Find(port);
  if (d == nullptr) return UnknownPort(true, port, data.size(), Value(data));
  std::lock_guard<std::mutex> lock(mu_);
  return d->Write(vcpu, port, data);
}

IoOutcome IoBus::Read(int vcpu, uint16_t port, std::span<uint8_t> data) {
  IoDevice* d = Find(port);
  if (d == nullptr) return UnknownPort(false, port, data.size(), 0);
  std::lock_guard<std::mutex> lock(mu_);
  return d->Read(vcpu, port, data);
}

}  // namespace tlbscope
