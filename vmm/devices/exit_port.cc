#include "vmm/devices/exit_port.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {

IoOutcome ExitPort::Write(int, uint16_t, std::span<const uint8_t> data) {
  uint32_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), sizeof(v)));
  int code = static_cast<int>(v & 0xff);
  return StopRequest{StopReason::kGuestExit, code,
                     absl::StrFormat("guest exited with code %d", code)};
}

IoOutcome ExitPort::Read(int, uint16_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  return std::nullopt;
}

IoOutcome PostPort::Read(int, uint16_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0xff, data.size());
  return std::nullopt;
}

}  // namespace tlbscope
