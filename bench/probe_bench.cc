// The host side of one Linux probe hit, no KVM: LinuxProbes::OnProbeHit
// for switch_mm_irqs_off's entry (registers, guest reads through the page
// walk, the tracker, the return int3 placed, the endbr64 emulated) and its
// return (the tracker's return, the int3 removed), and the CR3 write in
// between (the tracker's context_switch), as a ratio to one 8-byte read
// through the guest page walk measured in the same run:
//
//   build/bench/tlbscope_probe_bench
//
// A hit's exit itself (KVM) is not in it: see trap_bench.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include "common/file_bytes.h"
#include "vmm/boot/elf_file.h"
#include "vmm/linux/linux_probes.h"

namespace tlbscope {
namespace {

constexpr uint64_t kDirectMap = 0xffff888000000000ull;
constexpr uint64_t kPml4 = 0x1000, kPerCpu = kDirectMap + 0x300000;
constexpr uint64_t kBase = kDirectMap + 0x1000000, kMm = kDirectMap + 0x700000;
constexpr uint64_t kStack = kDirectMap + 0x2000000;

struct Setup {
  std::vector<uint8_t> vmlinux;
  std::unique_ptr<GuestMemory> mem;
  std::unique_ptr<ProbePoints> points;
  std::unique_ptr<LinuxProbes> probes;
  std::unique_ptr<Vcpu> vcpu;
  uint64_t entry = 0, ret = 0;
  PagingMode mode{(1ull << 31) | 1, kPml4, 1 << 5, (1 << 8) | (1 << 10)};
};

void Put(GuestMemory& m, uint64_t gva, uint64_t v) { (void)m.WriteObject(gva - kDirectMap, v); }

std::unique_ptr<Setup> Make() {
  auto s = std::make_unique<Setup>();
  s->vmlinux = *ReadFileBytes(std::string(TEST_KERNELS_DIR) + "/linux_probe_fns.elf", "bench");
  s->mem = std::make_unique<GuestMemory>(*GuestMemory::Create(64 << 20));
  ElfFile elf = *ParseElf(s->vmlinux, "bench");
  for (const ElfSegment& seg : elf.loads) {
    (void)s->mem->Write(seg.paddr, std::span(s->vmlinux).subspan(seg.offset, seg.filesz));
  }
  GuestMemory& m = *s->mem;
  (void)m.WriteObject<uint64_t>(kPml4 + 8 * ((kDirectMap >> 39) & 0x1ff), 0x2003);
  (void)m.WriteObject<uint64_t>(0x2000, 0x83);
  (void)m.WriteObject<uint64_t>(kPml4 + 8 * 511, 0x3003);
  (void)m.WriteObject<uint64_t>(0x3000 + 8 * 510, 0x4003);
  (void)m.WriteObject<uint64_t>(0x4000 + 8 * 8, 0x200081);
  auto fns = *introspect::LoadKernelKnowledge(s->vmlinux, {});
  auto fake = *ReadFileBytes(std::string(FAKE_KERNEL_DIR) + "/fake_kernel.elf", "bench");
  auto k =
      std::make_unique<introspect::KernelKnowledge>(*introspect::LoadKernelKnowledge(fake, {}));
  for (const char* f : {"switch_mm_irqs_off", "flush_tlb_func"})
    k->symbols.Add(f, *fns.symbols.Find(f));
  k->addresses.per_cpu_offset = kPerCpu;
  const introspect::KernelLayout& l = k->layout;
  Put(m, kPerCpu, kBase);
  Put(m, kBase + l.pcpu_cpu_tlbstate + l.ts_loaded_mm.offset, kMm);
  Put(m, kMm + l.mm_ctx_id.offset, 5);
  Put(m, kMm + l.mm_tlb_gen.offset, 1);
  s->entry = *fns.symbols.Find("switch_mm_irqs_off");
  s->ret = *fns.symbols.Find("ret_0");
  Put(m, kStack, s->ret);
  s->points = std::make_unique<ProbePoints>(&m);
  s->probes = std::make_unique<LinuxProbes>(std::move(k), s->vmlinux, &m, s->points.get(), 1);
  void* p = mmap(nullptr, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  s->vcpu = std::make_unique<Vcpu>(0, UniqueFd(), UniqueMapping(p, 16384));
  kvm_sregs& sr = s->vcpu->run()->s.regs.sregs;
  sr.cr0 = s->mode.cr0;
  sr.cr3 = kPml4;
  sr.cr4 = s->mode.cr4;
  sr.efer = s->mode.efer;
  return s;
}

void BM_ProbeHitEntryCr3Return(benchmark::State& state) {
  std::unique_ptr<Setup> s = Make();
  kvm_regs& r = s->vcpu->run()->s.regs.regs;
  for (auto _ : state) {
    r.rip = s->entry;
    r.rsp = kStack;
    r.rsi = kMm;
    VcpuStateView entry(*s->vcpu, true);
    benchmark::DoNotOptimize(s->probes->OnProbeHit(0, entry));
    s->probes->BeforeCr3Write(0, kPml4, 0x710000);
    r.rip = s->ret;
    r.rsp = kStack + 8;
    VcpuStateView back(*s->vcpu, true);
    benchmark::DoNotOptimize(s->probes->OnProbeHit(0, back));
  }
  if (s->probes->counts().unmatched != 0 || s->probes->counts().read_failures != 0) {
    state.SkipWithError("the probes did not match their own hits");
  }
  state.counters["hits"] = benchmark::Counter(2 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProbeHitEntryCr3Return);

void BM_PageWalkRead8(benchmark::State& state) {
  std::unique_ptr<Setup> s = Make();
  uint64_t v = 0;
  for (auto _ : state) {
    (void)ReadGuestVirtual(*s->mem, s->mode, kMm, std::span(reinterpret_cast<uint8_t*>(&v), 8));
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_PageWalkRead8);

}  // namespace
}  // namespace tlbscope

BENCHMARK_MAIN();
