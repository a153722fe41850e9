#include "vmm/trap/emulation_fixups.h"

#include <capstone/capstone.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/vcpu_state.h"

namespace tlbscope {
namespace {

constexpr uint32_t kBreakpointVector = 3, kInvalidOpcodeVector = 6, kNoMathVector = 7,
                   kGpVector = 13;
constexpr uint64_t kRflagsZf = 1ull << 6;

int CodeBits(const kvm_sregs& s) {
  if (In64BitMode(s)) return 64;
  return s.cs.db ? 32 : 16;
}

ExitAction StopWith(std::string message) {
  return ExitAction::Stop(StopRequest{StopReason::kInternalError, 0, std::move(message)});
}

absl::Status Inject(Vcpu& vcpu, uint32_t vector, std::optional<uint32_t> error_code) {
  kvm_vcpu_events ev{};
  if (absl::Status s = vcpu.GetEvents(&ev); !s.ok()) return s;
  ev.exception.injected = 1;
  ev.exception.nr = static_cast<uint8_t>(vector);
  ev.exception.has_error_code = error_code.has_value();
  ev.exception.error_code = error_code.value_or(0);
  ev.flags = 0;
  return vcpu.SetEvents(ev);
}

// lock cmpxchg16b on the host mapping of guest memory: atomic against the
// other vCPUs, which run on the same memory.
bool HostCmpxchg16b(void* p, __u64& rax, __u64& rdx, __u64 rbx, __u64 rcx) {
  bool ok;
  asm volatile("lock cmpxchg16b %1"
               : "=@ccz"(ok), "+m"(*static_cast<__int128*>(p)), "+a"(rax), "+d"(rdx)
               : "b"(rbx), "c"(rcx)
               : "memory");
  return ok;
}

// The linear address of a fix's memory operand.
std::optional<uint64_t> OperandAddress(const FailureFix& fix, const kvm_regs& regs,
                                       const kvm_sregs& sregs) {
  TlbSite operand{};
  operand.address = regs.rip;
  operand.length = fix.length;
  operand.mem = fix.mem;
  return EffectiveAddress(operand, regs, sregs);
}

}  // namespace

FailureFix ClassifyEmulationFailure(std::span<const uint8_t> bytes, uint64_t rip, int bits) {
  FailureFix fix;
  csh h;
  cs_mode mode = bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16;
  if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) return fix;
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(h);
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a = rip;
  if (cs_disasm_iter(h, &p, &n, &a, insn)) {
    fix.length = static_cast<uint8_t>(insn->size);
    fix.text = std::string(insn->mnemonic) + (insn->op_str[0] ? " " : "") + insn->op_str;
    switch (insn->id) {
      case X86_INS_INT3:
        fix.action = FailureFix::Action::kInjectBreakpoint;
        break;
      case X86_INS_CMPXCHG16B: {
        fix.action = FailureFix::Action::kCmpxchg16b;
        const cs_x86& x = insn->detail->x86;
        for (uint8_t i = 0; i < x.op_count; ++i) {
          if (x.operands[i].type != X86_OP_MEM) continue;
          fix.mem.segment = x.operands[i].mem.segment;
          fix.mem.base = x.operands[i].mem.base;
          fix.mem.index = x.operands[i].mem.index;
          fix.mem.scale = x.operands[i].mem.scale;
          fix.mem.disp = x.operands[i].mem.disp;
        }
        break;
      }
      case X86_INS_POPCNT: {
        fix.action = FailureFix::Action::kPopcnt;
        const cs_x86& x = insn->detail->x86;
        if (x.op_count != 2 || x.operands[0].type != X86_OP_REG) {
          fix.action = FailureFix::Action::kNone;
          break;
        }
        fix.dest = x.operands[0].reg;
        fix.size = x.operands[0].size;
        if (x.operands[1].type == X86_OP_REG) {
          fix.source = x.operands[1].reg;
        } else {
          fix.mem.segment = x.operands[1].mem.segment;
          fix.mem.base = x.operands[1].mem.base;
          fix.mem.index = x.operands[1].mem.index;
          fix.mem.scale = x.operands[1].mem.scale;
          fix.mem.disp = x.operands[1].mem.disp;
        }
        break;
      }
      case X86_INS_LDMXCSR:
      case X86_INS_STMXCSR: {
        const cs_x86& x = insn->detail->x86;
        if (x.op_count != 1 || x.operands[0].type != X86_OP_MEM) break;
        fix.action = insn->id == X86_INS_LDMXCSR ? FailureFix::Action::kLdmxcsr
                                                 : FailureFix::Action::kStmxcsr;
        fix.mem.segment = x.operands[0].mem.segment;
        fix.mem.base = x.operands[0].mem.base;
        fix.mem.index = x.operands[0].mem.index;
        fix.mem.scale = x.operands[0].mem.scale;
        fix.mem.disp = x.operands[0].mem.disp;
        fix.size = 4;
        break;
      }
      case X86_INS_WAIT:
        fix.action = FailureFix::Action::kFwait;
        break;
      case X86_INS_CLAC:
        fix.action = FailureFix::Action::kClac;
        break;
      case X86_INS_STAC:
        fix.action = FailureFix::Action::kStac;
        break;
      case X86_INS_RDFSBASE:
      case X86_INS_RDGSBASE:
      case X86_INS_WRFSBASE:
      case X86_INS_WRGSBASE: {
        const cs_x86& x = insn->detail->x86;
        if (x.op_count != 1 || x.operands[0].type != X86_OP_REG) break;
        bool fs = insn->id == X86_INS_RDFSBASE || insn->id == X86_INS_WRFSBASE;
        bool rd = insn->id == X86_INS_RDFSBASE || insn->id == X86_INS_RDGSBASE;
        using A = FailureFix::Action;
        fix.action =
            rd ? (fs ? A::kReadFsBase : A::kReadGsBase) : (fs ? A::kWriteFsBase : A::kWriteGsBase);
        (rd ? fix.dest : fix.source) = x.operands[0].reg;
        fix.size = x.operands[0].size;
        break;
      }
      case X86_INS_XSAVE:
      case X86_INS_XSAVEC:
      case X86_INS_XSAVEOPT:
      case X86_INS_XSAVES:
      case X86_INS_XSAVE64:
      case X86_INS_XSAVEC64:
      case X86_INS_XSAVEOPT64:
      case X86_INS_XSAVES64:
      case X86_INS_XRSTOR:
      case X86_INS_XRSTORS:
      case X86_INS_XRSTOR64:
      case X86_INS_XRSTORS64:
      case X86_INS_XGETBV:
      case X86_INS_XSETBV:
        fix.action = FailureFix::Action::kInjectInvalidOpcode;
        break;
      default:
        break;
    }
  }
  cs_free(insn, 1);
  cs_close(&h);
  return fix;
}

std::optional<ExitAction> EmulationFixups::OnTrapExit(Vcpu& vcpu) {
  if (inner_ != nullptr) {
    if (std::optional<ExitAction> a = inner_->OnTrapExit(vcpu)) return a;
  }
  kvm_run* run = vcpu.run();
  if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
      run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
      !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
      run->emulation_failure.insn_size == 0) {
    return std::nullopt;
  }
  return Fix(vcpu);
}

std::optional<ExitAction> EmulationFixups::Fix(Vcpu& vcpu) {
  kvm_run* run = vcpu.run();
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  kvm_regs* regs = nullptr;
  kvm_sregs* sregs = nullptr;
  if (!state.Load(&regs, &sregs).ok()) return std::nullopt;
  std::span<const uint8_t> bytes(run->emulation_failure.insn_bytes,
                                 std::min<uint32_t>(run->emulation_failure.insn_size, 16));
  FailureFix fix = ClassifyEmulationFailure(bytes, regs->rip, CodeBits(*sregs));
  FixupCounts& counts = counts_[vcpu.index()];
  absl::Status s;
  switch (fix.action) {
    case FailureFix::Action::kNone:
      return std::nullopt;
    case FailureFix::Action::kInjectBreakpoint:
      // #BP is a trap: the handler sees RIP after the int3.
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      if (s.ok()) s = Inject(vcpu, kBreakpointVector, std::nullopt);
      ++counts.breakpoints;
      break;
    case FailureFix::Action::kInjectInvalidOpcode:
      // With CR4.OSXSAVE clear the CPU raises #UD. With it set the guest
      // was told XSAVE exists (here the host's CPUID can reach the guest
      // kernel unfiltered), and a #UD would be a lie.
      if (sregs->cr4 & (1ull << 18)) {
        return StopWith(absl::StrFormat(
            "%s at %#x: KVM's instruction emulator cannot run it and tlbscope does not emulate "
            "XSAVE state; boot Linux with noxsave on this host",
            fix.text, regs->rip));
      }
      s = Inject(vcpu, kInvalidOpcodeVector, std::nullopt);
      ++counts.invalid_opcodes;
      break;
    case FailureFix::Action::kLdmxcsr:
    case FailureFix::Action::kStmxcsr: {
      std::optional<uint64_t> ea = OperandAddress(fix, *regs, *sregs);
      if (!ea) return std::nullopt;
      PagingMode mode{sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer};
      kvm_fpu fpu{};
      if (s = vcpu.GetFpu(&fpu); !s.ok()) break;
      if (fix.action == FailureFix::Action::kLdmxcsr) {
        uint32_t v = 0;
        if (absl::Status r =
                ReadGuestVirtual(*mem_, mode, *ea, {reinterpret_cast<uint8_t*>(&v), 4});
            !r.ok()) {
          return StopWith(absl::StrFormat("%s at %#x: operand %#x not readable (%s)", fix.text,
                                          regs->rip, *ea, r.message()));
        }
        if (v & 0xffff0000u) {  // reserved bits: #GP(0)
          s = Inject(vcpu, kGpVector, 0);
          break;
        }
        fpu.mxcsr = v;
        if (s = vcpu.SetFpu(fpu); !s.ok()) break;
      } else {
        absl::StatusOr<uint64_t> gpa = TranslateGva(*mem_, mode, *ea);
        if (!gpa.ok() || (*ea & 0xfff) > 0xffc) {
          return StopWith(absl::StrFormat("%s at %#x: operand %#x not writable here", fix.text,
                                          regs->rip, *ea));
        }
        uint32_t v = fpu.mxcsr;
        if (s = mem_->WriteObject(*gpa, v); !s.ok()) break;
      }
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.other;
      break;
    }
    case FailureFix::Action::kFwait: {
      constexpr uint64_t kCr0MpTs = (1ull << 1) | (1ull << 3);
      if ((sregs->cr0 & kCr0MpTs) == kCr0MpTs) {
        s = Inject(vcpu, kNoMathVector, std::nullopt);
        break;
      }
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.other;
      break;
    }
    case FailureFix::Action::kClac:
    case FailureFix::Action::kStac: {
      constexpr uint64_t kRflagsAc = 1ull << 18;
      regs->rflags = fix.action == FailureFix::Action::kStac ? (regs->rflags | kRflagsAc)
                                                             : (regs->rflags & ~kRflagsAc);
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.other;
      break;
    }
    case FailureFix::Action::kReadFsBase:
    case FailureFix::Action::kReadGsBase:
    case FailureFix::Action::kWriteFsBase:
    case FailureFix::Action::kWriteGsBase: {
      using A = FailureFix::Action;
      bool fs = fix.action == A::kReadFsBase || fix.action == A::kWriteFsBase;
      kvm_segment& seg = fs ? sregs->fs : sregs->gs;
      if (fix.action == A::kReadFsBase || fix.action == A::kReadGsBase) {
        if (!SetRegisterValue(*regs, fix.dest, seg.base)) return std::nullopt;
      } else {
        std::optional<uint64_t> v = RegisterValue(*regs, fix.source);
        if (!v) return std::nullopt;
        constexpr int kLinearBits = 57;  // at most; a non-canonical base is #GP
        int64_t sv = static_cast<int64_t>(*v);
        if (fix.size == 8 && (sv >> (kLinearBits - 1)) != 0 && (sv >> (kLinearBits - 1)) != -1) {
          s = Inject(vcpu, kGpVector, 0);
          break;
        }
        seg.base = *v;
        state.MarkSregsDirty();
      }
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.other;
      break;
    }
    case FailureFix::Action::kPopcnt: {
      uint64_t value = 0;
      if (fix.source != X86_REG_INVALID) {
        std::optional<uint64_t> v = RegisterValue(*regs, fix.source);
        if (!v) return std::nullopt;
        value = *v;
      } else {
        std::optional<uint64_t> ea = OperandAddress(fix, *regs, *sregs);
        if (!ea) return std::nullopt;
        PagingMode mode{sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer};
        uint8_t buf[8] = {};
        if (absl::Status r = ReadGuestVirtual(*mem_, mode, *ea, std::span(buf, fix.size));
            !r.ok()) {
          return StopWith(absl::StrFormat("%s at %#x: operand %#x not readable (%s)", fix.text,
                                          regs->rip, *ea, r.message()));
        }
        std::memcpy(&value, buf, 8);
      }
      if (fix.size < 8) value &= (1ull << (8 * fix.size)) - 1;
      int count = __builtin_popcountll(value);
      if (!SetRegisterValue(*regs, fix.dest, static_cast<uint64_t>(count))) return std::nullopt;
      constexpr uint64_t kArithFlags = 0x8d5;  // CF PF AF ZF SF OF
      regs->rflags &= ~kArithFlags;
      if (value == 0) regs->rflags |= kRflagsZf;
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.popcnt;
      break;
    }
    case FailureFix::Action::kCmpxchg16b: {
      std::optional<uint64_t> ea = OperandAddress(fix, *regs, *sregs);
      if (!ea) return std::nullopt;
      if (*ea % 16 != 0) {  // architecturally #GP(0)
        s = Inject(vcpu, kGpVector, 0);
        break;
      }
      PagingMode mode{sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer};
      absl::StatusOr<uint64_t> gpa = TranslateGva(*mem_, mode, *ea);
      if (!gpa.ok()) {
        return StopWith(
            absl::StrFormat("%s at %#x: operand %#x not mapped (%s); page faults "
                            "are not emulated",
                            fix.text, regs->rip, *ea, gpa.status().message()));
      }
      absl::StatusOr<uint8_t*> host = mem_->Ptr(*gpa, 16);
      if (!host.ok()) return StopWith(std::string(host.status().message()));
      bool equal = HostCmpxchg16b(*host, regs->rax, regs->rdx, regs->rbx, regs->rcx);
      regs->rflags = equal ? (regs->rflags | kRflagsZf) : (regs->rflags & ~kRflagsZf);
      regs->rip += fix.length;
      state.MarkRegsDirty();
      s = state.Commit();
      ++counts.cmpxchg16b;
      break;
    }
  }
  if (!s.ok()) return StopWith(std::string(s.message()));
  return ExitAction::Continue();
}

FixupCounts EmulationFixups::total() const {
  FixupCounts t;
  for (const FixupCounts& c : counts_) {
    t.breakpoints += c.breakpoints;
    t.invalid_opcodes += c.invalid_opcodes;
    t.cmpxchg16b += c.cmpxchg16b;
    t.popcnt += c.popcnt;
    t.other += c.other;
  }
  return t;
}

}  // namespace tlbscope
