#pragma once

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

}  // namespace tlbscope
