#include "vmm/machine/guest_tsc.h"

#include <x86intrin.h>

#include <atomic>

#include "common/log.h"

namespace tlbscope {
namespace {
constexpr uint32_t kMsrIa32Tsc = 0x10;
}  // namespace

void AlignGuestTsc(Vcpu& vcpu) {
  if (vcpu.SetTscOffset(0).ok()) return;
  const uint64_t before = __rdtsc();
  absl::StatusOr<uint64_t> guest = vcpu.GetMsr(kMsrIa32Tsc);
  const uint64_t after = __rdtsc();
  if (guest.ok() && *guest >= before && *guest <= after) return;  // one TSC already
  absl::Status s = vcpu.SetMsr(kMsrIa32Tsc, __rdtsc());
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  if (!s.ok()) {
    Log("vcpu %d: the guest's TSC cannot be set to the host's (%s): guest event records are "
        "placed against trapped instructions by a wrong clock",
        vcpu.index(), s.ToString());
    return;
  }
  Log("KVM has no KVM_VCPU_TSC_OFFSET: guest TSCs set to the host's by an MSR write, exact to "
      "within one ioctl; guest records that close to a trapped instruction may be misordered");
}

void CheckGuestTscStayed(const std::vector<Vcpu>& vcpus) {
  for (const Vcpu& v : vcpus) {
    absl::StatusOr<int64_t> offset = v.TscOffset();
    if (!offset.ok() || *offset == 0) continue;
    Log("vcpu %d: KVM moved the guest's TSC %lld cycles from the host's during the run (the "
        "host's TSC is marked unstable?): guest records near trapped instructions may be "
        "misordered",
        v.index(), static_cast<long long>(*offset));
    return;
  }
}

}  // namespace tlbscope
