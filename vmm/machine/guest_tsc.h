#pragma once

#include <vector>

#include "vmm/kvm/vcpu.h"

namespace tlbscope {

// Makes a new vCPU's TSC read what the host's does. Guest ring records are
// stamped with the guest's TSC and trapped instructions with the host's
// clock; the trace pipeline orders both on one timeline, which needs the
// two TSCs to agree. KVM on VMX/SVM starts a vCPU's TSC at 0 (kvm_pvm runs
// the guest on the host's TSC already).
//
// Exact where KVM has KVM_VCPU_TSC_OFFSET (Linux >= 5.16); otherwise the
// TSC MSR is written, which is exact to within one ioctl and said once.
void AlignGuestTsc(Vcpu& vcpu);

// After the run: says once if KVM moved a vCPU's TSC away from the host's
// (it does where the host's own TSC is marked unstable, at every move of a
// vCPU thread between CPUs), since guest records were then placed against
// trapped instructions by a drifting clock.
void CheckGuestTscStayed(const std::vector<Vcpu>& vcpus);

}  // namespace tlbscope
