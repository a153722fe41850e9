#include "vmm/devices/legacy_ports.h"

#include <cstring>

namespace tlbscope {

IoOutcome OpenBus::Read(int, uint16_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0xff, data.size());
  return std::nullopt;
}

IoOutcome CmosRtc::Write(int, uint16_t port, std::span<const uint8_t> data) {
  if (port == 0x70) index_ = data[0] & 0x7f;  // bit 7 is the NMI mask
  return std::nullopt;
}

IoOutcome CmosRtc::Read(int, uint16_t port, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (port == 0x70) {
    data[0] = index_;
    return std::nullopt;
  }
  switch (index_) {
    case 0x0a:
      data[0] = 0x26;  // 32.768 kHz, 1024 Hz; no update in progress
      break;
    case 0x0b:
      data[0] = 0x06;  // 24-hour, binary
      break;
    case 0x0d:
      data[0] = 0x80;  // valid RAM and time
      break;
    default:
      break;
  }
  return std::nullopt;
}

IoOutcome I8042Reset::Write(int, uint16_t, std::span<const uint8_t> data) {
  if (data[0] != 0xfe) return std::nullopt;
  return StopRequest{StopReason::kGuestExit, 0, "guest reset the machine (i8042 command 0xfe)"};
}

IoOutcome I8042Reset::Read(int, uint16_t, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  return std::nullopt;
}

void LinuxLegacyPorts::RegisterOn(IoBus& bus) {
  struct Range {
    uint16_t base, count;
  };
  // Ports 0x20/0x21, 0xa0/0xa1, 0x40-0x43 and 0x4d0/0x4d1 are KVM's
  // in-kernel PIC, PIT and ELCR; 0x80, 0xf0, 0xf4 and COM1 are tlbscope's.
  static constexpr Range kOpen[] = {
      {0x00, 0x20},   // DMA 1
      {0x60, 1},      // i8042 data
      {0x61, 1},      // NMI status / speaker
      {0x81, 0x0f},   // DMA page registers
      {0x92, 1},      // system control A
      {0xc0, 0x20},   // DMA 2
      {0x278, 3},     // LPT2
      {0x2e8, 8},     // COM4
      {0x2f8, 8},     // COM2
      {0x378, 3},     // LPT1
      {0x3b0, 0x30},  // VGA
      {0x3e8, 8},     // COM3
      {0xcf8, 8},     // PCI configuration mechanism 1
  };
  for (const Range& r : kOpen) bus.Register(r.base, r.count, &open_bus_);
  bus.Register(0x70, 2, &cmos_);
  bus.Register(0x64, 1, &i8042_);
}

}  // namespace tlbscope
