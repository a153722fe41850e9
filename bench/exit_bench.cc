// The cost of a port-I/O exit through tlbscope's dispatch path, as a ratio to
// the raw KVM_RUN exit round trip measured in the same run, on a real vCPU.
// Also the cost of DispatchExit alone (pure, no KVM).
//
//   build/bench/tlbscope_bench
//
// The guest is `1: out %al,$0x80; jmp 1b` in 32-bit protected mode.

#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>

#include "vmm/boot/cpu_setup.h"
#include "vmm/devices/exit_port.h"
#include "vmm/kvm/vm.h"
#include "vmm/vcpu/exit_dispatch.h"

namespace tlbscope {
namespace {

struct SpinGuest {
  KvmSystem sys;
  Vm vm;
  GuestMemory mem;
  Vcpu vcpu;
};

std::unique_ptr<SpinGuest> MakeGuest() {
  auto sys = KvmSystem::Open();
  if (!sys.ok()) return nullptr;
  auto vm = Vm::Create(*sys);
  auto mem = GuestMemory::Create(4 << 20);
  if (!vm.ok() || !mem.ok() || !vm->MapMemory(0, 0, *mem).ok()) return nullptr;
  const uint8_t code[] = {0xe6, 0x80, 0xeb, 0xfc};  // out %al,$0x80; jmp .-4
  if (!WriteBootGdt(*mem).ok() || !mem->Write(0x200000, code).ok()) return nullptr;
  auto vcpu = vm->CreateVcpu(0);
  if (!vcpu.ok()) return nullptr;
  auto cpuid = sys->SupportedCpuid();
  if (!cpuid.ok() || !vcpu->SetCpuid(CpuidForVcpu(*cpuid, 0)).ok()) return nullptr;
  LoadedKernel k{};
  k.entry = 0x200000;
  if (!SetupBootCpu(*vcpu, k).ok()) return nullptr;
  return std::make_unique<SpinGuest>(
      SpinGuest{std::move(*sys), std::move(*vm), std::move(*mem), std::move(*vcpu)});
}

double TimeExits(Vcpu& vcpu, IoBus* bus, int n) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (!vcpu.Run().ok()) return -1;
    if (bus != nullptr) {
      benchmark::DoNotOptimize(DispatchExit(*vcpu.run(), 0, *bus));
    } else {
      benchmark::DoNotOptimize(vcpu.run()->io.port);
    }
  }
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
         n;
}

void BM_PortExitDispatchVsRaw(benchmark::State& state) {
  struct stat st;
  if (::stat("/dev/kvm", &st) != 0) {
    state.SkipWithError("/dev/kvm absent");
    return;
  }
  auto g = MakeGuest();
  if (!g) {
    state.SkipWithError("could not build the spin guest");
    return;
  }
  PostPort post;
  IoBus bus;
  bus.Register(0x80, 1, &post);
  const int n = 2000;
  double raw = 0, dispatched = 0;
  for (auto _ : state) {
    // Interleave the two so noise from the shared machine hits both.
    raw += TimeExits(g->vcpu, nullptr, n);
    dispatched += TimeExits(g->vcpu, &bus, n);
  }
  double iters = static_cast<double>(state.iterations());
  state.counters["raw_exit_us"] = raw / iters;
  state.counters["dispatched_exit_us"] = dispatched / iters;
  state.counters["ratio"] = dispatched / raw;
}
BENCHMARK(BM_PortExitDispatchVsRaw)->Iterations(5)->Unit(benchmark::kMillisecond);

void BM_DispatchExitPostPortByte(benchmark::State& state) {
  std::vector<uint8_t> buf(8192, 0);
  auto& run = *reinterpret_cast<kvm_run*>(buf.data());
  run.exit_reason = KVM_EXIT_IO;
  run.io.direction = KVM_EXIT_IO_OUT;
  run.io.port = 0x80;
  run.io.size = 1;
  run.io.count = 1;
  run.io.data_offset = 4096;
  PostPort post;
  IoBus bus;
  bus.Register(0x80, 1, &post);
  for (auto _ : state) benchmark::DoNotOptimize(DispatchExit(run, 0, bus));
}
BENCHMARK(BM_DispatchExitPostPortByte);

}  // namespace
}  // namespace tlbscope

BENCHMARK_MAIN();
