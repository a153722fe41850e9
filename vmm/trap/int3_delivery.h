#pragma once

// The #BP of a guest's own int3, delivered by the VMM the way the CPU
// delivers it (Intel SDM vol. 3A 6.14, "Exception and Interrupt Handling in
// 64-bit Mode"), instead of handing it back to KVM through
// KVM_SET_VCPU_EVENTS. KVM re-injects #BP as a soft exception whose return
// RIP it computes itself; nested under QEMU TCG that injection was lost now
// and then (the guest went on one byte past the int3 without its handler:
// Linux's int3 self-test BUG()s, a text_poke_bp int3 runs half an
// instruction). Delivered here, the frame is exact by construction.
//
// Only the case Linux's own int3s are: CPL 0 in 64-bit mode, IDT gate 3 a
// present 64-bit interrupt or trap gate to the current code segment, RIP
// on the int3 (where KVM's #BP exit leaves it on VMX and SVM), no
// FRED. Anything else (user mode, a foreign gate, a stack that does not
// translate) is refused with the reason, and the caller injects as before.

#include <linux/kvm.h>

#include "absl/status/status.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

// `regs` (RIP at the int3) becomes the handler's entry state: RSP the new
// frame (SS, RSP, RFLAGS, CS, RIP after the int3; on the IST stack when the
// gate names one, 16-byte aligned), RFLAGS without TF, NT, RF (and IF for
// an interrupt gate), RIP the gate's offset. Guest memory and `regs` are
// changed only when the Status is OK.
absl::Status DeliverKernelInt3(kvm_regs& regs, const kvm_sregs& sregs, GuestMemory& mem);

}  // namespace tlbscope
