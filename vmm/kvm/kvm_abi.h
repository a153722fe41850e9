#pragma once

// <linux/kvm.h>'s flexible-array structs (kvm_cpuid2, kvm_msrs) change size
// and layout when compiled as C++: __DECLARE_FLEX_ARRAY wraps the array with
// an empty struct, which is 1 byte in C++, so `entries` moves and the ioctl
// numbers (which encode sizeof) no longer match the kernel's. These mirror
// the C layout; the static_asserts pin the numbers to what C computes.

#include <linux/kvm.h>

#include <cstdint>

namespace tlbscope {

inline constexpr uint32_t kMaxCpuidEntries = 256;

struct KvmCpuid2 {
  uint32_t nent;
  uint32_t padding;
  kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};

struct KvmMsrs1 {
  uint32_t nmsrs;
  uint32_t pad;
  kvm_msr_entry entries[1];
};

// Header of both structs is 8 bytes in C.
inline constexpr unsigned long kKvmGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
inline constexpr unsigned long kKvmSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
inline constexpr unsigned long kKvmGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);
inline constexpr unsigned long kKvmSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
static_assert(kKvmGetSupportedCpuid == 0xc008ae05ul && kKvmSetCpuid2 == 0x4008ae90ul &&
              kKvmGetMsrs == 0xc008ae88ul && kKvmSetMsrs == 0x4008ae89ul);

}  // namespace tlbscope
