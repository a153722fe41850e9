#pragma once

// A made-up kvm_run, as KVM would hand it to userspace, for driving
// DispatchExit without a guest.

#include <linux/kvm.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace tlbscope::testing {

class FakeRun {
 public:
  static constexpr uint32_t kDataOffset = 2048;
  FakeRun() : buf_(8192, 0) {}
  kvm_run& run() { return *reinterpret_cast<kvm_run*>(buf_.data()); }
  uint8_t* io_data() { return buf_.data() + kDataOffset; }

  kvm_run& Io(uint8_t direction, uint16_t port, uint8_t size, uint32_t count,
              const std::vector<uint8_t>& bytes = {}) {
    std::memset(buf_.data(), 0, buf_.size());
    kvm_run& r = run();
    r.exit_reason = KVM_EXIT_IO;
    r.io.direction = direction;
    r.io.port = port;
    r.io.size = size;
    r.io.count = count;
    r.io.data_offset = kDataOffset;
    std::memcpy(io_data(), bytes.data(), bytes.size());
    return r;
  }
  kvm_run& Out32(uint16_t port, uint32_t value) {
    std::vector<uint8_t> b(4);
    std::memcpy(b.data(), &value, 4);
    return Io(KVM_EXIT_IO_OUT, port, 4, 1, b);
  }
  kvm_run& Reason(uint32_t reason) {
    std::memset(buf_.data(), 0, buf_.size());
    run().exit_reason = reason;
    return run();
  }

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace tlbscope::testing
