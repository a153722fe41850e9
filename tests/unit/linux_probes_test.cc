// The Linux probes in the VMM (vmm/linux), no KVM: Linux-shaped entries
// (tests/kernels/linux_probe_fns.S) at the kernel's text address in guest
// memory, the fake kernel's layouts, data reached through real page tables.
// Made-up int3 hits go through the trap-event path, pipeline and collector.
#include "vmm/linux/linux_probes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collectors/collector.h"
#include "common/file_bytes.h"
#include "tests/unit/collect_sink.h"
#include "tests/unit/fake_vcpu.h"
#include "vmm/boot/elf_file.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {
namespace {

using ::testing::ElementsAre;
using testing::FakeVcpu;
using ::testing::IsEmpty;

constexpr uint64_t kDirectMap = 0xffff888000000000ull;  // -> physical 0 (a 1 GiB page)
constexpr uint64_t kPml4 = testing::FakeVcpu::kCr3;
constexpr uint64_t kPerCpuOffsets = kDirectMap + 0x300000;
constexpr uint64_t kInitMm = kDirectMap + 0x600000;
constexpr uint64_t kMmA = kDirectMap + 0x700000;
constexpr uint64_t kInfo = kDirectMap + 0x800000;

HostCaps Pvm() {
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

const char* kFns[] = {"switch_mm_irqs_off",     "enter_lazy_tlb",       "flush_tlb_mm_range",
                      "native_flush_tlb_multi", "flush_tlb_func",       "tlb_gather_mmu",
                      "tlb_finish_mmu",         "flush_tlb_one_kernel", "flush_tlb_all",
                      "do_flush_tlb_all"};

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
    for (int i = 0; i < 7; ++i) ret_[i] = *fns->symbols.Find("ret_" + std::to_string(i));
    knowledge->addresses.per_cpu_offset = kPerCpuOffsets;
    l_ = knowledge->layout;
    for (uint32_t c = 0; c < 2; ++c) Put(kPerCpuOffsets + 8 * c, Base(c));
    Mm(kInitMm, 1, 1);
    Mm(kMmA, 5, 1);
    for (uint32_t c = 0; c < 2; ++c) Load(c, kInitMm, 1, 1);
    engine_ = std::make_unique<TrapEngine>(Pvm(), std::vector<TlbSite>{}, mem_.get(), 2);
    probes_ = std::make_unique<LinuxProbes>(std::move(knowledge), vmlinux_, mem_.get(),
                                            &engine_->probe_points(), 2);
    engine_->SetProbeClient(probes_.get());
    trace_ = std::make_unique<TracePipeline>(2);
    trace_->AddSink(&sink_);
    probes_->SetEmit([this](uint32_t cpu, v1::Event e) { trace_->Append(cpu, std::move(e)); });
    path_ = TrapEventPath(*trace_, probes_.get());
    trace_->Start();
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
  uint8_t TextByte(uint64_t gva) {
    return *mem_->ReadObject<uint8_t>(gva - fn_["switch_mm_irqs_off"] + 0x200000);
  }
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
};

TEST_F(LinuxProbesTest, PlanPlacesAnInt3AtEachEntryAndSaysHowToGetPast) {
  EXPECT_THAT(probes_->plan().problems, IsEmpty());
  ASSERT_EQ(probes_->plan().probes.size(), 10u);
  // tlb_finish_mmu's load of mm->tlb_flush_pending, read right after it.
  ASSERT_EQ(l_.mm_tlb_flush_pending.offset, 0x98u) << "linux_probe_fns.S assumes it";
  ASSERT_EQ(probes_->plan().loads.size(), 1u);
  const PlannedLoad& load = probes_->plan().loads[0];
  EXPECT_EQ(load.site.address, fn_["tlb_finish_mmu"] + 7);  // endbr64; mov (%rdi), %rax
  EXPECT_TRUE(TextByte(load.site.after()) == 0xcc && TextByte(load.site.address) != 0xcc)
      << load.Describe() << ": the int3 after the load, the load untouched";
  std::map<std::string, std::string> how;
  for (const PlannedProbe& p : probes_->plan().probes) {
    EXPECT_EQ(TextByte(p.plan.address), 0xcc) << p.Describe();
    EXPECT_EQ(p.paddr, p.plan.address - fn_["switch_mm_irqs_off"] + 0x200000);
    how[p.function] = p.plan.Describe().substr(p.plan.Describe().find(':') + 2);
  }
  EXPECT_EQ(how["switch_mm_irqs_off"], "emulate a 4-byte no-op");
  EXPECT_EQ(how["enter_lazy_tlb"], "emulate push rbx");
  EXPECT_EQ(how["flush_tlb_mm_range"], "emulate push r12");
  // Past the ftrace NOP, a mov; a per-CPU increment.
  EXPECT_TRUE(how["native_flush_tlb_multi"] == "step" && how["flush_tlb_one_kernel"] == "step");
  EXPECT_EQ(IntAddress("native_flush_tlb_multi"), fn_["native_flush_tlb_multi"] + 5);
}

TEST_F(LinuxProbesTest, EngineHandsAnInt3ExitToTheProbesAndEmulatesTheEndbr) {
  FakeVcpu& v = vcpus_[0];
  uint64_t rsp = kDirectMap + 0x2000000;
  Put(rsp, ret_[0]);
  v.regs().rip = fn_["switch_mm_irqs_off"];
  v.regs().rsp = rsp;
  v.regs().rsi = kMmA;
  v.Int3Exit();
  std::optional<ExitAction> a = engine_->OnTrapExit(v.vcpu());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(v.regs().rip, fn_["switch_mm_irqs_off"] + 4);  // past endbr64
  EXPECT_EQ(v.regs().rsp, rsp);
  EXPECT_TRUE(v.vcpu().run()->kvm_dirty_regs & KVM_SYNC_X86_REGS);
  // The tracker now waits for the return: an int3 there.
  EXPECT_EQ(TextByte(ret_[0]), 0xcc);
  EXPECT_EQ(probes_->counts().hits, 1u);
  EXPECT_EQ(probes_->counts().emulated, 1u);
}

TEST_F(LinuxProbesTest, AnInt3ThatIsNotOursIsLeftToTheFixups) {
  FakeVcpu& v = vcpus_[0];
  v.regs().rip = fn_["switch_mm_irqs_off"] + 2;
  v.Int3Exit();
  EXPECT_FALSE(engine_->OnTrapExit(v.vcpu()).has_value());
  EXPECT_EQ(probes_->counts().hits, 0u);
}

TEST_F(LinuxProbesTest, ARemovedReturnInt3IsRetriedNotRaised) {
  // switch_mm's entry places the return int3, its return removes it; a
  // vCPU whose exit raced with the removal runs the instruction again.
  SwitchToA(0, 0x1);
  EXPECT_NE(TextByte(ret_[0]), 0xcc);
  FakeVcpu& v = vcpus_[1];
  v.regs().rip = ret_[0];
  v.Int3Exit();
  std::optional<ExitAction> a = engine_->OnTrapExit(v.vcpu());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(v.regs().rip, ret_[0]);
}

TEST_F(LinuxProbesTest, PushIsEmulatedExactly) {
  uint64_t rsp = kDirectMap + 0x2000000;
  Put(rsp, ret_[2]);
  vcpus_[0].regs().r12 = 0x1122334455667788ull;
  EXPECT_EQ(Hit(0, fn_["flush_tlb_mm_range"], rsp, {kMmA, 0, 0x1000, 12, 0}),
            ProbeClient::Next::kResume);
  EXPECT_EQ(vcpus_[0].regs().rip, fn_["flush_tlb_mm_range"] + 2);
  EXPECT_EQ(vcpus_[0].regs().rsp, rsp - 8);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(rsp - 8 - kDirectMap), 0x1122334455667788ull);
}

// tlb_flush_pending, read from the load's destination register after it:
// that value (not the entry's) is the gather_end's.
TEST_F(LinuxProbesTest, TheNestedCheckLoadIsReadAfterItAndReported) {
  const uint64_t tlb = kDirectMap + 0x900000;
  Put(tlb + l_.mg_mm.offset, kMmA);
  Put(tlb + l_.mg_start.offset, 0x400000);
  Put(tlb + l_.mg_end.offset, 0x401000);
  Put(tlb + l_.mg_freed_tables.offset, 0, 1);
  Put(kMmA + l_.mm_tlb_flush_pending.offset, 2, 4);  // at the entry: nested
  ASSERT_EQ(probes_->plan().loads.size(), 1u);
  const uint64_t at = probes_->plan().loads[0].site.after();
  Call(0, 6, {tlb}, [&] {
    vcpus_[0].regs().rax = 0xdead000000000001;  // eax: the kernel loaded 1 (memory says 2)
    uint64_t rsp = kDirectMap + 0x2000000 - 0x100 * depth_[0];
    EXPECT_EQ(Hit(0, at, rsp), ProbeClient::Next::kStep);
    EXPECT_TRUE(vcpus_[0].regs().rax == 0xdead000000000001 && vcpus_[0].regs().rip == at)
        << "nothing in the guest changes";
  });
  std::vector<v1::Event> all = Finish();
  const v1::Event* end = nullptr;
  for (const v1::Event& e : all) {
    if (e.has_gather_end()) end = &e;
  }
  ASSERT_NE(end, nullptr);
  EXPECT_FALSE(end->gather_end().nested() || end->gather_end().pending_seen() != 1);
  EXPECT_TRUE(probes_->counts().loads == 1 && probes_->counts().unmatched == 0);
}

TEST_F(LinuxProbesTest, SwitchesAndAShootdownReachTheSinkInOrderAndTheCollectorIsClean) {
  SwitchToA(0, 0x1);
  SwitchToA(1, 0x3);
  Shootdown(2, 0x400000, 0x402000);
  // Every return int3 is gone again; the entries stay.
  for (int i = 0; i < 7; ++i) EXPECT_NE(TextByte(ret_[i]), 0xcc) << i;
  EXPECT_EQ(engine_->probe_points().size(), 10u + 1);  // the entries and the load
  std::vector<v1::Event> all = Finish();
  std::vector<std::string> v1k = Kinds(all, 1);
  // vCPU 1: the switch (cpumask join, context_switch right before its CR3
  // write), then the remote flush with its two INVLPGs.
  ASSERT_GE(v1k.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(v1k.begin(), v1k.begin() + 3),
              ElementsAre("cpumask", "context_switch", "cr3_write"));
  // Read through the old root's page walk: mm A's cpumask and ctx_ids.
  for (const v1::Event& e : all) {
    if (e.vcpu() != 1) continue;
    if (e.has_cpumask()) EXPECT_THAT(e.cpumask().cpus(), ElementsAre(0, 1));
    if (e.has_context_switch()) {
      EXPECT_EQ(e.context_switch().prev_mm(), 1u);
      EXPECT_EQ(e.context_switch().next_mm(), 5u);
      EXPECT_EQ(e.context_switch().cr3(), 0x710000u);
      break;
    }
  }
  collect::Collector c;
  c.SetTrapping({true, true, true});
  for (const v1::Event& e : all) c.Observe(e);
  c.Finish(true);
  std::vector<std::string> violations;
  for (const collect::Violation& v : c.violations()) violations.push_back(v.invariant);
  EXPECT_THAT(violations, IsEmpty());
  const collect::MmModel* mm = c.state().mm(5);
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->tlb_gen, 2u);
  for (uint32_t cpu = 0; cpu < 2; ++cpu) {
    ASSERT_NE(c.state().vcpu(cpu), nullptr);
    EXPECT_EQ(c.state().vcpu(cpu)->loaded_mm, 5u);
    EXPECT_EQ(c.state().vcpu(cpu)->LocalGen(5), 2u) << "cpu " << cpu;
  }
  LinuxProbes::Counts n = probes_->counts();
  EXPECT_EQ(n.read_failures, 0u);
  EXPECT_EQ(n.unmatched, 0u);
  EXPECT_EQ(n.return_place_failures, 0u);
  EXPECT_GT(n.events, 0u);
  // Entries: 2 switches (emulated), range (push), multi (stepped), 2 funcs.
  EXPECT_EQ(n.emulated, 2u + 1 + 2);
}

// While CPU 0 waits in flush_tlb_mm_range it runs a flush_tlb_func on its
// IRQ stack, far above the task's: the waiting frames stay, so their
// returns still make flush_done.
TEST_F(LinuxProbesTest, AFlushOnTheIrqStackLeavesTheWaitingFramesAlone) {
  irq_stack_ = true;
  SwitchToA(0, 0x1);
  SwitchToA(1, 0x3);
  Shootdown(2, 0x400000, 0x402000);
  std::vector<std::string> kinds = Kinds(Finish(), 0);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "flush_done"), 1) << kinds.size();
  EXPECT_EQ(probes_->counts().unmatched, 0u);
}

}  // namespace
}  // namespace tlbscope
