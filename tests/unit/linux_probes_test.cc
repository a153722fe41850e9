// The Linux probes in the VMM (vmm/linux), no KVM: Linux-shaped entries
// (tests/kernels/linux_probe_fns.S) at the kernel's text address in guest
// memory, the fake kernel's layouts, data reached through real page tables.
// Made-up int3 hits go through the trap-event path, pipeline and collector.
#include "tests/unit/linux_probes_fixture.h"

namespace tlbscope::linux_probes_testing {
namespace {

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
  EXPECT_EQ(engine_->probe_points().size(), 10u + 1 + 2);  // entries, the load, 2 sync_cores
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
}  // namespace tlbscope::linux_probes_testing
