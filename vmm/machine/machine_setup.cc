// Loading the guest, creating the VM and building the devices.
#include <cstdio>

#include "common/file_bytes.h"
#include "common/log.h"
#include "tlbscope/probe_abi.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/machine/guest_tsc.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/trap/host_caps.h"

namespace tlbscope {
namespace {

// kvm_pvm: the guest kernel sees the host's CPUID here, whatever
// KVM_SET_CPUID2 says: only its own options keep it off what KVM's
// emulator cannot run.
absl::Status AppendPvmLinuxOptions(const MachineConfig& config, GuestMemory& mem) {
  std::string cmdline = config.cmdline.empty() ? std::string(kPvmLinuxOptions)
                                               : config.cmdline + " " + kPvmLinuxOptions;
  if (absl::Status s = WriteCmdline(mem, cmdline); !s.ok()) return s;
  Log("kvm_pvm: appended \"%s\" to the Linux command line (the guest sees the host's CPUID; "
      "KVM's emulator cannot run XSAVE or SIMD code; --no-linux-cpu-fixups to leave it alone)",
      kPvmLinuxOptions);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoadedGuest>> LoadGuest(const MachineConfig& config) {
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(config.mem_mib << 20);
  if (!mem.ok()) return mem.status();
  // The kernel file is read once: loaded, scanned for TLB sites, identified.
  absl::StatusOr<std::vector<uint8_t>> kernel_bytes = ReadFileBytes(config.kernel_path, "kernel");
  if (!kernel_bytes.ok()) return kernel_bytes.status();
  std::vector<uint8_t> initrd;
  if (!config.initrd_path.empty()) {
    absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(config.initrd_path, "initrd");
    if (!bytes.ok()) return bytes.status();
    initrd = std::move(*bytes);
  }
  absl::StatusOr<LoadedKernel> kernel =
      LoadKernelBytes(*kernel_bytes, config.kernel_path, config.boot, config.cmdline, *mem,
                      InitrdFile{initrd, config.initrd_path});
  if (!kernel.ok()) return kernel.status();
  auto guest = std::unique_ptr<LoadedGuest>(
      new LoadedGuest{std::move(*mem), std::move(*kernel_bytes), std::move(*kernel), false});
  guest->emulated_cpl0 = DetectKvmModule() == "kvm_pvm";
  if (guest->kernel.is_linux && guest->emulated_cpl0 && config.linux_cpu_fixups) {
    if (absl::Status s = AppendPvmLinuxOptions(config, guest->mem); !s.ok()) return s;
  }
  if (absl::Status s = WriteBootGdt(guest->mem); !s.ok()) return s;
  if (absl::Status s = WriteMpTable(guest->mem, config.smp); !s.ok()) return s;
  if (absl::Status s = WriteAcpiTables(guest->mem, config.smp); !s.ok()) return s;
  return guest;
}

// vCPU 0 is the BSP at the kernel entry; the APs wait for INIT/SIPI in
// KVM's in-kernel LAPIC, as on real hardware.
absl::StatusOr<std::unique_ptr<VmParts>> CreateVm(const MachineConfig& config, LoadedGuest& guest) {
  absl::StatusOr<KvmSystem> kvm = KvmSystem::Open(config.kvm_device);
  if (!kvm.ok()) return kvm.status();
  absl::StatusOr<Vm> vm = Vm::Create(*kvm);
  if (!vm.ok()) return vm.status();
  auto parts = std::unique_ptr<VmParts>(new VmParts{std::move(*kvm), std::move(*vm), {}});
  if (absl::Status s = parts->vm.CreateIrqchipAndPit(); !s.ok()) return s;
  if (absl::Status s = parts->vm.MapMemory(0, 0, guest.mem); !s.ok()) return s;
  absl::StatusOr<CpuidTable> cpuid = parts->kvm.SupportedCpuid();
  if (!cpuid.ok()) return cpuid.status();
  parts->vcpus.reserve(config.smp);
  for (int i = 0; i < config.smp; ++i) {
    absl::StatusOr<Vcpu> v = parts->vm.CreateVcpu(i);
    if (!v.ok()) return v.status();
    if (absl::Status s = v->SetCpuid(CpuidForVcpu(*cpuid, i, guest.emulated_cpl0)); !s.ok()) {
      return s;
    }
    AlignGuestTsc(*v);
    parts->vcpus.push_back(std::move(*v));
  }
  if (absl::Status s = SetupBootCpu(parts->vcpus[0], guest.kernel); !s.ok()) return s;
  return parts;
}

// COM1's IRQ 4 through the in-kernel PIC/IOAPIC. A failing KVM_IRQ_LINE
// cannot be reported from inside a port access; the console then falls
// back to what polling drivers see.
Devices::Devices(Vm* vm, SerialSink* sink, GuestMemory* mem, bool is_linux)
    : serial(TLBSCOPE_COM1_PORT, sink, [vm](bool level) { (void)vm->SetIrqLine(4, level); }),
      probe(mem) {
  bus.Register(TLBSCOPE_COM1_PORT, 8, &serial);
  bus.Register(TLBSCOPE_EXIT_PORT, 4, &exit_port);
  bus.Register(TLBSCOPE_POST_PORT, 1, &post_port);
  bus.Register(TLBSCOPE_PROBE_PORT, 4, &probe);
  bus.Register(TLBSCOPE_MARK_PORT, 1, &mark_port);
  if (is_linux) legacy.RegisterOn(bus);
  if (is_linux) sink->WatchLinuxPanic();  // a panicked kernel ends the run at once
}

}  // namespace tlbscope
