// cmpxchg16b, performed with lock cmpxchg16b on the host mapping of guest
// memory: atomic against the other vCPUs, which run on the same memory.
#include "absl/strings/str_format.h"
#include "vmm/trap/fixup.h"
#include "vmm/trap/guest_walk.h"

namespace tlbscope {
namespace {

bool HostCmpxchg16b(void* p, __u64& rax, __u64& rdx, __u64 rbx, __u64 rcx) {
  bool ok;
  asm volatile("lock cmpxchg16b %1"
               : "=@ccz"(ok), "+m"(*static_cast<__int128*>(p)), "+a"(rax), "+d"(rdx)
               : "b"(rbx), "c"(rcx)
               : "memory");
  return ok;
}

}  // namespace

FixOutcome FixCmpxchg16b(const FailureFix& fix, FixInput& in) {
  std::optional<uint64_t> ea = FixOperandAddress(fix, in);
  if (!ea) return FixOutcome::Decline();
  if (*ea % 16 != 0) return FixOutcome::Raise(kGpVector, 0);  // architecturally #GP(0)
  PagingMode mode{in.sregs.cr0, in.sregs.cr3, in.sregs.cr4, in.sregs.efer};
  absl::StatusOr<uint64_t> gpa = TranslateGva(in.mem, mode, *ea);
  if (!gpa.ok()) {
    return FixOutcome::Stop(
        absl::StrFormat("%s at %#x: operand %#x not mapped (%s); page faults are not emulated",
                        fix.text, in.regs.rip, *ea, gpa.status().message()));
  }
  absl::StatusOr<uint8_t*> host = in.mem.Ptr(*gpa, 16);
  if (!host.ok()) return FixOutcome::Stop(std::string(host.status().message()));
  bool equal = HostCmpxchg16b(*host, in.regs.rax, in.regs.rdx, in.regs.rbx, in.regs.rcx);
  constexpr uint64_t kRflagsZf = 1ull << 6;
  in.regs.rflags = equal ? (in.regs.rflags | kRflagsZf) : (in.regs.rflags & ~kRflagsZf);
  return FixOutcome::Retire();
}

}  // namespace tlbscope
