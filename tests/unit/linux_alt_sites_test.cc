// The TLB instructions a kernel's alternatives patch into its text at boot
// (vmm/linux/alt_sites.h, TrapEngine::AddDeferredSites): mapped from
// .altinstr_replacement to the code they replace, trapped there once the
// kernel's boot-time patching is done and only where the kernel did patch
// them in. linux_probe_fns.S has one: a paravirt write_cr3() call whose
// replacement is `mov %rdi,%cr3`.
#include <cstring>

#include "tests/unit/linux_probes_fixture.h"
#include "vmm/linux/alt_sites.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope::linux_probes_testing {
namespace {

class AltSitesTest : public LinuxProbesTest {
 protected:
  AltSitesTest() { boot_gate_ = true; }

  void SetUp() override {
    LinuxProbesTest::SetUp();
    absl::StatusOr<ElfFile> elf = ParseElf(vmlinux_, "linux_probe_fns.elf");
    ASSERT_TRUE(elf.ok());
    for (const ElfSymbol& s : elf->symbols) {
      if (s.name == "pv_write_cr3_site") site_ = s.value;
      if (s.name == "alt_cr3_replacement") replacement_ = s.value;
    }
    ASSERT_NE(site_, 0u);
    absl::StatusOr<SiteScan> scan = ScanTlbSites(vmlinux_, *elf);
    ASSERT_TRUE(scan.ok()) << scan.status();
    for (const TlbSite& s : scan->sites) {
      if (s.section == ".altinstr_replacement") replacements_.push_back(s);
    }
    ASSERT_EQ(replacements_.size(), 1u);
    EXPECT_EQ(replacements_[0].address, replacement_);
  }
  void SetState(uint32_t v) { ASSERT_TRUE(mem_->WriteObject(TextPaddr(system_state_), v).ok()); }
  // What apply_alternatives() does when the CPU has the feature: the
  // replacement over the call, the rest NOPs.
  void ApplyAlternative() {
    const uint8_t code[] = {0x0f, 0x22, 0xdf, 0x90, 0x90, 0x90};
    ASSERT_TRUE(mem_->Write(TextPaddr(site_), code).ok());
  }
  void Defer() {
    absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(vmlinux_, l_, replacements_);
    ASSERT_TRUE(plan.ok()) << plan.status();
    engine_->AddDeferredSites(plan->sites);
    probes_->SetAfterBoot([this] { engine_->AfterKernelBoot(); });
  }

  uint64_t site_ = 0, replacement_ = 0;
  std::vector<TlbSite> replacements_;
};

TEST_F(AltSitesTest, TheReplacementIsMappedToTheCodeItReplaces) {
  absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(vmlinux_, l_, replacements_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->problems, IsEmpty());
  ASSERT_EQ(plan->sites.size(), 1u);
  const TlbSite& s = plan->sites[0];
  EXPECT_EQ(s.address, site_);
  EXPECT_EQ(s.kind, TlbInsn::kMovCr3);
  EXPECT_EQ(s.reg, X86_REG_RDI);
  EXPECT_EQ(s.section, ".text");
  EXPECT_EQ(s.paddr, std::optional<uint64_t>(TextPaddr(site_)));
  EXPECT_EQ(s.bytes, (std::vector<uint8_t>{0x0f, 0x22, 0xdf}));
}

TEST_F(AltSitesTest, TrappedWhereTheKernelPatchedItOnceItsPatchingIsDone) {
  Defer();
  engine_->SetEventCallback(path_);
  FakeVcpu& v = vcpus_[0];
  // Before the boot's patching the call is there, no int3 of ours, and an
  // int3 exit at that address is not ours either.
  EXPECT_EQ(TextByte(site_), 0xff);
  v.regs().rip = site_;
  v.Int3Exit();
  EXPECT_FALSE(engine_->OnTrapExit(v.vcpu()).has_value());
  ApplyAlternative();
  SetState(1);
  Invlpg(0, 0x1000);
  EXPECT_EQ(TextByte(site_), 0x0f);  // still patching: not yet
  SetState(2);
  Invlpg(0, 0x1000);
  ASSERT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(site_), 0xcc);
  TrapEngine::DeferredReport d = engine_->deferred();
  EXPECT_TRUE(d.done);
  ASSERT_EQ(d.placed.size(), 1u);
  EXPECT_THAT(d.absent, IsEmpty());
  // The CR3 write runs: trapped, emulated, recorded from that address.
  v.regs().rip = site_;
  v.regs().rdi = 0x710000;
  v.Int3Exit();
  std::optional<ExitAction> a = engine_->OnTrapExit(v.vcpu());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(v.regs().rip, site_ + 3);
  EXPECT_EQ(v.sregs().cr3, 0x710000u);
  EXPECT_EQ(engine_->trapped(0).cr3_writes, 1u);
  std::vector<v1::Event> all = Finish();
  int cr3 = 0;
  for (const v1::Event& e : all) {
    if (!e.has_cr3_write()) continue;
    ++cr3;
    EXPECT_EQ(e.cr3_write().new_cr3(), 0x710000u);
    EXPECT_EQ(e.trap().rip(), site_);
  }
  EXPECT_EQ(cr3, 1);
}

TEST_F(AltSitesTest, WhereTheKernelLeftItsOwnCodeNoInt3GoesIn) {
  Defer();
  SetState(4);  // the CPU lacked the feature: the call stays
  Invlpg(1, 0x1000);
  ASSERT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(site_), 0xff);
  TrapEngine::DeferredReport d = engine_->deferred();
  EXPECT_TRUE(d.done);
  EXPECT_THAT(d.placed, IsEmpty());
  ASSERT_EQ(d.absent.size(), 1u);
  EXPECT_THAT(d.absent[0], ::testing::HasSubstr("ff 15 00"));
}

// The int3s placed at the start on TLB sites are checked at the gate too:
// one the boot's patching wrote over (its first byte, or the bytes after
// it) is named with what is there now; the others, and one whose int3 was
// only lifted for a step (its original byte back), are not.
class AltAndStartSitesTest : public AltSitesTest {
 protected:
  AltAndStartSitesTest() { start_sites_ = true; }
};

TEST_F(AltAndStartSitesTest, StartSitesTheBootPatchingWroteOverAreNamedAtTheGate) {
  Defer();
  std::vector<const TlbSite*> start = engine_->patched();
  ASSERT_GE(start.size(), 3u) << engine_->uncovered().size() << " uncovered";
  const TlbSite& over = *start[0];
  const TlbSite& tail = *start[1];
  const TlbSite& lifted = *start[2];
  ASSERT_GE(tail.length, 2);
  ASSERT_EQ(TextByte(over.address), 0xcc);
  ASSERT_TRUE(mem_->WriteObject(TextPaddr(over.address), uint8_t{0x90}).ok());
  ASSERT_TRUE(mem_->WriteObject(TextPaddr(tail.address) + 1, uint8_t{0x90}).ok());
  ASSERT_TRUE(mem_->WriteObject(TextPaddr(lifted.address), lifted.bytes[0]).ok());
  SetState(2);
  Invlpg(0, 0x1000);
  ASSERT_TRUE(probes_->placed());
  TrapEngine::DeferredReport d = engine_->deferred();
  EXPECT_TRUE(d.checked);
  EXPECT_EQ(d.checked_sites, start.size());
  ASSERT_EQ(d.written_over.size(), 2u) << ::testing::PrintToString(d.written_over);
  EXPECT_THAT(d.written_over[0], ::testing::StartsWith(SiteLabel(over) + ": now 90"));
  EXPECT_THAT(d.written_over[1], ::testing::StartsWith(SiteLabel(tail) + ": now cc 90"));
  EXPECT_EQ(TextByte(over.address), 0x90) << "the kernel's code stays";
}

TEST_F(AltSitesTest, ALayoutThatDoesNotFitTheSectionIsRefusedWithALine) {
  introspect::KernelLayout l = l_;
  l.alt_instr_size = 16;  // padded, against this file's 14-byte entries
  absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(vmlinux_, l, replacements_);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), ::testing::HasSubstr("not a multiple"));
  l.alt_instr_size = 0;  // a kernel without struct alt_instr in its debug data
  plan = PlanAlternativeSites(vmlinux_, l, replacements_);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), ::testing::HasSubstr("no struct alt_instr"));
  l = l_;
  l.ai_instrlen.size = 4;
  plan = PlanAlternativeSites(vmlinux_, l, replacements_);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), ::testing::HasSubstr("two 8-bit lengths"));
}

TEST_F(AltSitesTest, AReplacementNoEntryNamesIsReported) {
  std::vector<TlbSite> stray = replacements_;
  stray[0].address += 0x1000;
  absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(vmlinux_, l_, stray);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->sites, IsEmpty());
  ASSERT_EQ(plan->problems.size(), 1u);
  EXPECT_THAT(plan->problems[0], ::testing::HasSubstr("no alternative names it"));
}

TEST_F(AltSitesTest, EntriesThatCannotBeMappedAreReportedOneLineEach) {
  absl::StatusOr<ElfFile> elf = ParseElf(vmlinux_, "linux_probe_fns.elf");
  ASSERT_TRUE(elf.ok());
  uint64_t entry = 0;  // the file offset of the one alt_instr
  for (const ElfSection& sec : elf->sections) {
    if (sec.name == ".altinstructions") entry = sec.offset;
  }
  ASSERT_NE(entry, 0u);
  auto plan_with = [&](const std::vector<uint8_t>& file, const std::vector<TlbSite>& sites) {
    absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(file, l_, sites);
    EXPECT_TRUE(plan.ok()) << plan.status();
    EXPECT_THAT(plan->sites, IsEmpty());
    return plan->problems;
  };
  // instrlen 2: the 3-byte replacement would not fit the code it replaces.
  std::vector<uint8_t> file = vmlinux_;
  file[entry + l_.ai_instrlen.offset] = 2;
  EXPECT_THAT(plan_with(file, replacements_),
              ::testing::Contains(::testing::HasSubstr("longer than the code it replaces")));
  // instr_offset far away: the original code is in no loaded text.
  file = vmlinux_;
  const int32_t far = 0x10000000;
  std::memcpy(&file[entry + l_.ai_instr_offset.offset], &far, sizeof far);
  EXPECT_THAT(plan_with(file, replacements_),
              ::testing::Contains(::testing::HasSubstr("is in no text")));
  // A RIP-relative operand would not survive the copy.
  std::vector<TlbSite> rip = replacements_;
  rip[0].mem.base = X86_REG_RIP;
  EXPECT_THAT(plan_with(vmlinux_, rip),
              ::testing::Contains(::testing::HasSubstr("RIP-relative, not copied verbatim")));
}

TEST_F(AltSitesTest, AKernelWithoutAltinstructionsIsRefusedWithALine) {
  std::vector<uint8_t> fake =
      *ReadFileBytes(std::string(FAKE_KERNEL_DIR) + "/fake_kernel.elf", "test");
  absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(fake, l_, replacements_);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), "no .altinstructions section");
  plan = PlanAlternativeSites(std::vector<uint8_t>(vmlinux_.begin(), vmlinux_.begin() + 64), l_,
                              replacements_);
  ASSERT_FALSE(plan.ok());  // a truncated vmlinux: the ELF reader's line
  EXPECT_THAT(plan.status().message(), ::testing::HasSubstr("the vmlinux"));
}

}  // namespace
}  // namespace tlbscope::linux_probes_testing
