#pragma once

#include "vmm/vcpu/io_bus.h"

namespace tlbscope {

// isa-debug-exit at port 0xf4: a write ends the VM with the written value
// as tlbscope's exit status (QEMU reports (value << 1) | 1; kvm-unit-tests'
// scripts undo that, so the value itself is the guest's code).
class ExitPort : public IoDevice {
 public:
  std::string_view name() const override { return "exit-port"; }
  IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) override;
};

// Port 0x80 (POST codes / io_delay): writes accepted and dropped.
class PostPort : public IoDevice {
 public:
  std::string_view name() const override { return "post-port"; }
  IoOutcome Write(int, uint16_t, std::span<const uint8_t>) override { return std::nullopt; }
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) override;
};

}  // namespace tlbscope
