#include "vmm/trap/host_caps.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/vm.h"
#include "vmm/vcpu/vcpu_runner.h"

namespace tlbscope {
namespace {

constexpr uint64_t kCodeGpa = 0x200000;

struct ProbeResult {
  bool ran = false;
  uint32_t exit_reason = 0;
  uint64_t debug_pc = 0;
  uint32_t debug_exception = 0;
  uint32_t suberror = 0;
};

// Runs `code` (32-bit protected mode, CPL0) once on a fresh one-vCPU VM with
// `debug` installed, until its first exit or a 2 s watchdog.
ProbeResult RunProbe(const std::string& device, const std::vector<uint8_t>& code,
                     const kvm_guest_debug* debug) {
  ProbeResult out;
  auto sys = KvmSystem::Open(device);
  if (!sys.ok()) return out;
  auto vm = Vm::Create(*sys);
  auto mem = GuestMemory::Create(4 << 20);
  if (!vm.ok() || !mem.ok() || !vm->MapMemory(0, 0, *mem).ok()) return out;
  if (!WriteBootGdt(*mem).ok() || !mem->Write(kCodeGpa, code).ok()) return out;
  auto vcpu = vm->CreateVcpu(0);
  auto cpuid = sys->SupportedCpuid();
  if (!vcpu.ok() || !cpuid.ok() || !vcpu->SetCpuid(CpuidForVcpu(*cpuid, 0)).ok()) return out;
  LoadedKernel k{};
  k.entry = kCodeGpa;
  k.ebx = kCodeGpa + 0x1000;  // a zeroed 16-byte INVPCID descriptor
  if (!SetupBootCpu(*vcpu, k).ok()) return out;
  if (debug != nullptr && !vcpu->SetGuestDebug(*debug).ok()) return out;

  VcpuRunner::InstallKickHandler();
  std::atomic<bool> done{false};
  pthread_t self = pthread_self();
  kvm_run* run = vcpu->run();
  std::thread watchdog([&] {
    for (int i = 0; i < 200 && !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!done.load()) {
      run->immediate_exit = 1;
      pthread_kill(self, VcpuRunner::kKickSignal);
    }
  });
  absl::StatusOr<bool> r = vcpu->Run();
  done.store(true);
  watchdog.join();
  if (!r.ok() || !*r) return out;
  out.ran = true;
  out.exit_reason = run->exit_reason;
  out.debug_pc = run->debug.arch.pc;
  out.debug_exception = run->debug.arch.exception;
  out.suberror = run->internal.suberror;
  return out;
}

kvm_guest_debug HwBreakpointAt(uint64_t addr) {
  kvm_guest_debug d{};
  d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  d.arch.debugreg[0] = addr;
  d.arch.debugreg[7] = 0x400 | 0x2;  // G0, execute, 1 byte
  return d;
}

std::string ReadSmall(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

const char* InvpcidBehaviourName(InvpcidBehaviour b) {
  switch (b) {
    case InvpcidBehaviour::kExecutes:
      return "executes";
    case InvpcidBehaviour::kEmulationFailure:
      return "emulation-failure exit";
    case InvpcidBehaviour::kFaults:
      return "faults in the guest";
    case InvpcidBehaviour::kOther:
      return "unknown";
  }
  return "?";
}

std::string DetectKvmModule() {
  std::string found;
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (access((std::string("/sys/module/") + m).c_str(), F_OK) == 0) found = m;
  }
  return found;
}

absl::StatusOr<HostCaps> ProbeHost(const std::string& device) {
  absl::StatusOr<KvmSystem> sys = KvmSystem::Open(device);
  if (!sys.ok()) return sys.status();
  HostCaps c;
  c.kvm_module = DetectKvmModule();
  if (c.kvm_module.empty()) c.kvm_module = "kvm (vendor module unknown)";
  std::string cpuinfo = ReadSmall("/proc/cpuinfo");
  c.cpu_vmx = absl::StrContains(cpuinfo, " vmx");
  c.cpu_svm = absl::StrContains(cpuinfo, " svm");
  c.cap_guest_debug = sys->CheckExtension(KVM_CAP_SET_GUEST_DEBUG) > 0;
  c.cap_blockirq = (sys->CheckExtension(KVM_CAP_SET_GUEST_DEBUG2) & KVM_GUESTDBG_BLOCKIRQ) != 0;
  int sync = sys->CheckExtension(KVM_CAP_SYNC_REGS);
  c.cap_sync_regs =
      (sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) == (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
  c.cap_vcpu_events = sys->CheckExtension(KVM_CAP_VCPU_EVENTS) > 0;
  int bps = sys->CheckExtension(KVM_CAP_GUEST_DEBUG_HW_BPS);
  c.hw_breakpoints = bps > 0 ? bps : (c.cap_guest_debug ? 4 : 0);  // x86 has DR0-DR3

  if (absl::StatusOr<CpuidTable> cpuid = sys->SupportedCpuid(); cpuid.ok()) {
    if (const kvm_cpuid_entry2* e = cpuid->Find(1, 0)) {
      c.cpuid_pcid = e->ecx & (1u << 17);
      c.cpuid_pge = e->edx & (1u << 13);
    }
    if (const kvm_cpuid_entry2* e = cpuid->Find(7, 0)) {
      c.cpuid_invpcid = e->ebx & (1u << 10);
      c.cpuid_la57 = e->ecx & (1u << 16);
    }
    if (const kvm_cpuid_entry2* e = cpuid->Find(7, 1)) c.cpuid_lam = e->eax & (1u << 26);
  }

  // nop; nop; out %al,$0xf4
  const std::vector<uint8_t> nops = {0x90, 0x90, 0xe6, 0xf4};
  if (c.cap_guest_debug) {
    kvm_guest_debug bp = HwBreakpointAt(kCodeGpa + 1);
    ProbeResult r = RunProbe(device, nops, &bp);
    c.hw_breakpoint_fires = r.ran && r.exit_reason == KVM_EXIT_DEBUG && r.debug_pc == kCodeGpa + 1;

    kvm_guest_debug step{};
    step.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    r = RunProbe(device, nops, &step);
    c.single_step_works = r.ran && r.exit_reason == KVM_EXIT_DEBUG && r.debug_pc == kCodeGpa + 1;

    kvm_guest_debug sw{};
    sw.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
    r = RunProbe(device, {0x90, 0xcc, 0xe6, 0xf4}, &sw);  // nop; int3; out
    c.int3_exits = r.ran && r.exit_reason == KVM_EXIT_DEBUG && r.debug_exception == 3;
  }
  {
    ProbeResult r = RunProbe(device, {0x90, 0xcc, 0xe6, 0xf4}, nullptr);
    c.int3_emulation_failure = r.ran && r.exit_reason == KVM_EXIT_INTERNAL_ERROR &&
                               r.suberror == KVM_INTERNAL_ERROR_EMULATION;
  }
  // mov $2,%eax; invpcid (%ebx),%eax; out %al,$0xf4
  ProbeResult r =
      RunProbe(device, {0xb8, 0x02, 0, 0, 0, 0x66, 0x0f, 0x38, 0x82, 0x03, 0xe6, 0xf4}, nullptr);
  if (r.ran && r.exit_reason == KVM_EXIT_IO) {
    c.invpcid = InvpcidBehaviour::kExecutes;
  } else if (r.ran && r.exit_reason == KVM_EXIT_INTERNAL_ERROR &&
             r.suberror == KVM_INTERNAL_ERROR_EMULATION) {
    c.invpcid = InvpcidBehaviour::kEmulationFailure;
  } else if (r.ran && r.exit_reason == KVM_EXIT_SHUTDOWN) {
    c.invpcid = InvpcidBehaviour::kFaults;  // #UD with no IDT: triple fault
  }
  return c;
}

}  // namespace tlbscope
