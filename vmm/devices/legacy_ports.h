#pragma once

// The PC's legacy I/O ports a Linux kernel probes at boot, for a machine
// that has none of those devices: PCI configuration (0xcf8-0xcff), the
// keyboard controller, COM2-4, LPT, VGA, DMA, port 0x61... Reads float high
// (all ones) and writes are dropped, as on a bus with nothing attached, so
// Linux finds no device there. The CMOS RTC answers with a stopped clock.

#include <cstdint>

#include "vmm/vcpu/io_bus.h"

namespace tlbscope {

class OpenBus : public IoDevice {
 public:
  std::string_view name() const override { return "open bus"; }
  IoOutcome Write(int, uint16_t, std::span<const uint8_t>) override { return std::nullopt; }
  IoOutcome Read(int, uint16_t, std::span<uint8_t> data) override;
};

// MC146818 at 0x70/0x71: index then data. Time and date read as zero, the
// update-in-progress bit is clear, 24-hour binary mode, the battery good.
class CmosRtc : public IoDevice {
 public:
  std::string_view name() const override { return "cmos"; }
  IoOutcome Write(int, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int, uint16_t port, std::span<uint8_t> data) override;

 private:
  uint8_t index_ = 0;
};

// The i8042 command port 0x64 as far as a reset goes: status reads say
// "buffers empty", command 0xfe (pulse the reset line, how Linux reboots
// when ACPI has no reset register) ends the run as a clean guest exit, the
// way Firecracker treats it.
class I8042Reset : public IoDevice {
 public:
  std::string_view name() const override { return "i8042"; }
  IoOutcome Write(int, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int, uint16_t port, std::span<uint8_t> data) override;
};

// The legacy devices of a Linux machine, registered on a bus.
class LinuxLegacyPorts {
 public:
  void RegisterOn(IoBus& bus);

 private:
  OpenBus open_bus_;
  CmosRtc cmos_;
  I8042Reset i8042_;
};

}  // namespace tlbscope
