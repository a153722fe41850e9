#pragma once
// The fixture of the VMM-side Linux probe tests (linux_probes_test.cc,
// linux_probes_events_test.cc): Linux-shaped entries
// (tests/kernels/linux_probe_fns.S) at the kernel's text address in guest
// memory, the fake kernel's layouts, data reached through real page tables.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/collector.h"
#include "common/file_bytes.h"
#include "tests/unit/collect_sink.h"
#include "tests/unit/fake_vcpu.h"
#include "vmm/boot/elf_file.h"
#include "vmm/linux/linux_probes.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope::linux_probes_testing {

using ::testing::ElementsAre;
using testing::FakeVcpu;
using ::testing::IsEmpty;

constexpr uint64_t kDirectMap = 0xffff888000000000ull;  // -> physical 0 (a 1 GiB page)
constexpr uint64_t kPml4 = testing::FakeVcpu::kCr3;
constexpr uint64_t kPerCpuOffsets = kDirectMap + 0x300000;
constexpr uint64_t kInitMm = kDirectMap + 0x600000;
constexpr uint64_t kMmA = kDirectMap + 0x700000;
constexpr uint64_t kInfo = kDirectMap + 0x800000;

inline HostCaps Pvm() {
  HostCaps c;
  c.cap_guest_debug = true;
  c.cap_sync_regs = true;
  c.hw_breakpoints = 4;
  c.hw_breakpoint_fires = true;
  c.single_step_works = true;
  c.invpcid = InvpcidBehaviour::kEmulationFailure;
  c.int3_emulation_failure = true;
  return c;
}

inline constexpr const char* kFns[] = {
    "switch_mm_irqs_off", "enter_lazy_tlb",  "flush_tlb_mm_range", "native_flush_tlb_multi",
    "flush_tlb_func",     "tlb_gather_mmu",  "tlb_finish_mmu",     "flush_tlb_one_kernel",
    "flush_tlb_all",      "do_flush_tlb_all"};

class LinuxProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vmlinux_ = *ReadFileBytes(std::string(TEST_KERNELS_DIR) + "/linux_probe_fns.elf", "test");
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(64 << 20));
    absl::StatusOr<ElfFile> elf = ParseElf(vmlinux_, "linux_probe_fns.elf");
    ASSERT_TRUE(elf.ok()) << elf.status();
    for (const ElfSegment& s : elf->loads) {
      ASSERT_TRUE(mem_->Write(s.paddr, std::span(vmlinux_).subspan(s.offset, s.filesz)).ok());
    }
    MapPages();
    absl::StatusOr<introspect::KernelKnowledge> fns = introspect::LoadKernelKnowledge(vmlinux_, {});
    ASSERT_TRUE(fns.ok()) << fns.status();
    std::vector<uint8_t> fake =
        *ReadFileBytes(std::string(FAKE_KERNEL_DIR) + "/fake_kernel.elf", "test");
    absl::StatusOr<introspect::KernelKnowledge> k = introspect::LoadKernelKnowledge(fake, {});
    ASSERT_TRUE(k.ok()) << k.status();
    auto knowledge = std::make_unique<introspect::KernelKnowledge>(*std::move(k));
    for (const char* f : kFns) {
      ASSERT_TRUE(fns->symbols.Find(f)) << f;
      knowledge->symbols.Add(f, *fns->symbols.Find(f));
      fn_[f] = *fns->symbols.Find(f);
    }
    for (const char* f : {"finish_task_switch.isra.0", "finish_task_switch_end"}) {
      ASSERT_TRUE(fns->symbols.Find(f)) << f;
      knowledge->symbols.Add(f, *fns->symbols.Find(f));
      fn_[f] = *fns->symbols.Find(f);
    }
    for (int i = 0; i < 7; ++i) ret_[i] = *fns->symbols.Find("ret_" + std::to_string(i));
    if (boot_gate_) {
      system_state_ = *fns->symbols.Find("system_state_word");
      knowledge->symbols.Add("system_state", system_state_);
      for (const char* f : {"syscall_exit_to_user_mode", "__x86_return_thunk"}) {
        knowledge->symbols.Add(f, *fns->symbols.Find(f));
        fn_[f] = *fns->symbols.Find(f);
      }
    }
    knowledge->addresses.per_cpu_offset = kPerCpuOffsets;
    l_ = knowledge->layout;
    for (uint32_t c = 0; c < 2; ++c) Put(kPerCpuOffsets + 8 * c, Base(c));
    Mm(kInitMm, 1, 1);
    Mm(kMmA, 5, 1);
    for (uint32_t c = 0; c < 2; ++c) Load(c, kInitMm, 1, 1);
    engine_ = std::make_unique<TrapEngine>(Pvm(), StartSites(), mem_.get(), 2,
                                           BreakpointPolicy::kSoftwareOnly);
    engine_->PatchSoftwareBreakpoints();
    probes_ = std::make_unique<LinuxProbes>(std::move(knowledge), vmlinux_, mem_.get(),
                                            &engine_->probe_points(), 2);
    engine_->SetProbeClient(probes_.get());
    trace_ = std::make_unique<TracePipeline>(2);
    trace_->AddSink(&sink_);
    probes_->SetEmit([this](uint32_t cpu, v1::Event e) { trace_->Append(cpu, std::move(e)); });
    path_ = TrapEventPath(*trace_, probes_.get());
    trace_->Start();
  }

  // With start_sites_, the TLB sites of linux_probe_fns' .text, int3'd at
  // the start as a run does; else none.
  std::vector<TlbSite> StartSites() {
    std::vector<TlbSite> sites;
    if (!start_sites_) return sites;
    absl::StatusOr<ElfFile> elf = ParseElf(vmlinux_, "linux_probe_fns.elf");
    EXPECT_TRUE(elf.ok());
    if (!elf.ok()) return sites;
    absl::StatusOr<SiteScan> scan = ScanTlbSites(vmlinux_, *elf);
    EXPECT_TRUE(scan.ok()) << scan.status();
    if (!scan.ok()) return sites;
    for (const TlbSite& s : scan->sites) {
      if (s.section == ".text") sites.push_back(s);
    }
    return sites;
  }

  // 4-level tables: the direct map as one 1 GiB page, the kernel text as a
  // 2 MiB page at physical 0x200000.
  void MapPages() {
    constexpr uint64_t kP = 1, kRw = 2, kPs = 0x80;
    Put64(kPml4 + 8 * ((kDirectMap >> 39) & 0x1ff), 0x2000 | kP | kRw);
    Put64(0x2000, 0 | kPs | kP | kRw);
    Put64(kPml4 + 8 * 511, 0x3000 | kP | kRw);
    Put64(0x3000 + 8 * 510, 0x4000 | kP | kRw);
    Put64(0x4000 + 8 * 8, 0x200000 | kPs | kP);
  }
  void Put64(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem_->WriteObject(gpa, v).ok()); }
  void Put(uint64_t gva, uint64_t v, uint32_t size = 8) {
    ASSERT_TRUE(
        mem_->Write(gva - kDirectMap, std::span(reinterpret_cast<uint8_t*>(&v), size)).ok());
  }
  uint64_t TextPaddr(uint64_t gva) { return gva - fn_["switch_mm_irqs_off"] + 0x200000; }
  uint8_t TextByte(uint64_t gva) { return *mem_->ReadObject<uint8_t>(TextPaddr(gva)); }
  uint64_t Base(uint32_t cpu) { return kDirectMap + 0x1000000 + 0x800000ull * cpu; }
  uint64_t Ts(uint32_t cpu) { return Base(cpu) + l_.pcpu_cpu_tlbstate; }
  void Mm(uint64_t mm, uint64_t ctx_id, uint64_t gen) {
    Put(mm + l_.mm_ctx_id.offset, ctx_id);
    Put(mm + l_.mm_tlb_gen.offset, gen);
    Put(mm + l_.mm_pgd.offset, mm + 0x10000);
    Put(mm + l_.mm_cpu_bitmap.offset, 0);
    Put(mm + l_.mm_tlb_flush_pending.offset, 0, 4);
  }
  void Load(uint32_t cpu, uint64_t mm, uint64_t ctx_id, uint64_t gen) {
    Put(Ts(cpu) + l_.ts_loaded_mm.offset, mm);
    Put(Ts(cpu) + l_.ts_loaded_mm_asid.offset, 0, 2);
    LocalGen(cpu, ctx_id, gen);
    Put(Base(cpu) + l_.pcpu_cpu_tlbstate_shared + l_.tss_is_lazy.offset, 0, 1);
  }
  void LocalGen(uint32_t cpu, uint64_t ctx_id, uint64_t gen) {
    uint64_t ctx = Ts(cpu) + l_.ts_ctxs.offset;
    Put(ctx + l_.tc_ctx_id.offset, ctx_id);
    Put(ctx + l_.tc_tlb_gen.offset, gen);
  }
  void Info(uint64_t start, uint64_t end, uint64_t gen) {
    Put(kInfo + l_.fi_mm.offset, kMmA);
    Put(kInfo + l_.fi_start.offset, start);
    Put(kInfo + l_.fi_end.offset, end);
    Put(kInfo + l_.fi_new_tlb_gen.offset, gen);
    Put(kInfo + l_.fi_initiating_cpu.offset, 0, 4);
    Put(kInfo + l_.fi_stride_shift.offset, 12, 1);
    Put(kInfo + l_.fi_freed_tables.offset, 0, 1);
  }
  uint64_t IntAddress(const char* fn) {
    for (const PlannedProbe& p : probes_->plan().probes) {
      if (p.function == fn) return p.plan.address;
    }
    ADD_FAILURE() << "no probe on " << fn;
    return 0;
  }
  // One breakpoint hit on `cpu` at `rip` with `rsp`, as the engine hands it over.
  ProbeClient::Next Hit(uint32_t cpu, uint64_t rip, uint64_t rsp, std::vector<uint64_t> args = {}) {
    kvm_regs& r = vcpus_[cpu].regs();
    r.rip = rip;
    r.rsp = rsp;
    __u64* slots[] = {&r.rdi, &r.rsi, &r.rdx, &r.rcx, &r.r8, &r.r9};
    for (size_t i = 0; i < args.size(); ++i) *slots[i] = args[i];
    VcpuStateView view(vcpus_[cpu].vcpu(), true);
    return probes_->OnProbeHit(static_cast<int>(cpu), view);
  }
  // A call of kFns[fn] on `cpu`: entry hit, `body`, return hit.
  void Call(uint32_t cpu, int fn, std::vector<uint64_t> args, const std::function<void()>& body) {
    uint64_t rsp = kDirectMap + 0x2000000 + 0x100000ull * cpu - 0x100 * depth_[cpu];
    if (fn == 4 && irq_stack_) rsp += 0x400000;  // flush_tlb_func from an IPI
    Put(rsp, ret_[fn]);
    Hit(cpu, IntAddress(kFns[fn]), rsp, args);
    ++depth_[cpu];
    body();
    --depth_[cpu];
    if (TextByte(ret_[fn]) != 0xcc) return;  // the tracker waits for no return here
    EXPECT_EQ(Hit(cpu, ret_[fn], rsp + 8), ProbeClient::Next::kStep);
  }
  void Cr3(uint32_t cpu, uint64_t value) {
    TrapEvent e;
    e.kind = TlbInsn::kMovCr3;
    e.vcpu = static_cast<int>(cpu);
    e.old_cr3 = kPml4;
    e.new_cr3 = value;
    path_(e);
  }
  void Invlpg(uint32_t cpu, uint64_t a) {
    TrapEvent e;
    e.kind = TlbInsn::kInvlpg;
    e.vcpu = static_cast<int>(cpu);
    e.linear = a;
    path_(e);
  }
  void SwitchToA(uint32_t cpu, uint64_t mask_after) {
    Call(cpu, 0, {kInitMm, kMmA, 0}, [&] {
      Put(kMmA + l_.mm_cpu_bitmap.offset, mask_after);
      Cr3(cpu, 0x710000);
      Load(cpu, kMmA, 5, 1);
    });
  }
  void FlushFunc(uint32_t cpu, uint64_t gen, uint64_t start, uint64_t end) {
    Call(cpu, 4, {kInfo}, [&] {
      for (uint64_t a = start; a < end; a += 0x1000) Invlpg(cpu, a);
      LocalGen(cpu, 5, gen);
    });
  }
  void Shootdown(uint64_t gen, uint64_t start, uint64_t end) {
    Call(0, 2, {kMmA, start, end, 12, 0}, [&] {
      Put(kMmA + l_.mm_tlb_gen.offset, gen);
      Info(start, end, gen);
      Put(kInfo + 0x800, 0x3);  // the cpumask argument
      Call(0, 3, {kInfo + 0x800, kInfo}, [&] {
        FlushFunc(0, gen, start, end);
        FlushFunc(1, gen, start, end);
      });
    });
  }
  std::vector<v1::Event> Finish() {
    trace_->Finish(v1::TraceEnd());
    return sink_.all;
  }
  static std::vector<std::string> Kinds(const std::vector<v1::Event>& all, uint32_t vcpu) {
    std::vector<std::string> out;
    for (const v1::Event& e : all) {
      if (e.vcpu() == vcpu) out.push_back(EventKindName(e));
    }
    return out;
  }

  std::vector<uint8_t> vmlinux_;
  std::unique_ptr<GuestMemory> mem_;
  std::map<std::string, uint64_t> fn_;
  uint64_t ret_[7] = {};
  introspect::KernelLayout l_;
  FakeVcpu vcpus_[2] = {FakeVcpu(0), FakeVcpu(1)};
  std::unique_ptr<TrapEngine> engine_;
  std::unique_ptr<LinuxProbes> probes_;
  std::unique_ptr<TracePipeline> trace_;
  test_support::CollectSink sink_;
  std::function<void(const TrapEvent&)> path_;
  std::map<uint32_t, int> depth_;
  bool irq_stack_ = false;
  // Set by a derived fixture's constructor: the knowledge has system_state
  // (linux_probe_fns.S's system_state_word), so the int3s wait for it.
  bool boot_gate_ = false;
  bool start_sites_ = false;  // likewise: the engine traps the .text TLB sites
  uint64_t system_state_ = 0;
};

}  // namespace tlbscope::linux_probes_testing
