#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "vmm/vcpu/stop_reason.h"

namespace tlbscope {

// Result of one port access: nullopt to go on, or a request to stop the VM.
using IoOutcome = std::optional<StopRequest>;

// A device on the port-I/O bus. Calls are serialised by the bus, so devices
// need no locks of their own. `data` holds the access in guest byte order.
class IoDevice {
 public:
  virtual ~IoDevice() = default;
  virtual std::string_view name() const = 0;
  virtual IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data) = 0;
  virtual IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) = 0;
};

// Port ranges -> devices. A port nobody owns stops the VM (kUnknownPort).
class IoBus {
 public:
  // Takes a [base, base + count) range; ranges must not overlap.
  void Register(uint16_t base, uint16_t count, IoDevice* device);
  IoDevice* Find(uint16_t port) const;
  IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data);
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data);

 private:
  struct Range {
    uint16_t base, count;
    IoDevice* device;
  };
  std::vector<Range> ranges_;  // fixed before the vCPUs start
  // One lock for every device: port exits are rare and short next to the
  // guest's own emulated instructions, and it keeps devices single-threaded.
  std::mutex mu_;
};

}  // namespace tlbscope
