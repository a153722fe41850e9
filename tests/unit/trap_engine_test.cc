// How the trap engine shares out sites between debug registers and int3s,
// and how it patches guest memory. No KVM: the engine only plans here.

#include "vmm/trap/trap_engine.h"

#include <gtest/gtest.h>

#include "common/file_bytes.h"

namespace tlbscope {
namespace {

HostCaps Host(bool sw) {
  HostCaps c;
  c.cap_guest_debug = true;
  c.hw_breakpoints = 4;
  c.hw_breakpoint_fires = true;
  c.single_step_works = true;
  c.invpcid = InvpcidBehaviour::kEmulationFailure;
  c.int3_emulation_failure = sw;
  return c;
}

class TrapEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path = std::string(TEST_KERNELS_DIR) + "/tlb_sites.elf";
    bytes_ = *ReadFileBytes(path, "test");
    elf_ = *ParseElf(bytes_, path);
    sites_ = ScanTlbSites(bytes_, elf_)->sites;
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(8 << 20));
    for (const ElfSegment& s : elf_.loads) {
      ASSERT_TRUE(mem_->Write(s.paddr, std::span(bytes_).subspan(s.offset, s.filesz)).ok());
    }
  }
  std::vector<uint8_t> bytes_;
  ElfFile elf_;
  std::vector<TlbSite> sites_;
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(TrapEngineTest, DebugRegistersFirstThenInt3) {
  ASSERT_EQ(sites_.size(), 30u);  // 17 CR3, 10 INVLPG, 3 INVPCID
  TrapEngine e(Host(/*sw=*/true), sites_, mem_.get(), 2);
  e.PatchSoftwareBreakpoints();
  EXPECT_EQ(e.armed().size(), 4u);
  // INVPCID traps by itself here (emulation failure): no breakpoint for it.
  EXPECT_EQ(e.patched().size(), 23u);
  EXPECT_TRUE(e.uncovered().empty());
  // The flush sites win the debug registers.
  for (const TlbSite* s : e.armed()) EXPECT_EQ(s->klass, SiteClass::kFlush) << s->symbol;
  // Every patched site now starts with int3 in guest memory.
  for (const TlbSite* s : e.patched()) {
    ASSERT_TRUE(s->paddr.has_value());
    EXPECT_EQ(*mem_->ReadObject<uint8_t>(*s->paddr), 0xcc) << s->text;
  }
}

TEST_F(TrapEngineTest, HardwareOnlyLeavesTheRestUncovered) {
  TrapEngine e(Host(true), sites_, mem_.get(), 1, BreakpointPolicy::kHardwareOnly);
  e.PatchSoftwareBreakpoints();
  EXPECT_EQ(e.armed().size(), 4u);
  EXPECT_TRUE(e.patched().empty());
  EXPECT_EQ(e.uncovered().size(), 23u);
}

TEST_F(TrapEngineTest, NoSoftwareBreakpointsOnThisHostKind) {
  TrapEngine e(Host(false), sites_, mem_.get(), 1, BreakpointPolicy::kSoftwareOnly);
  e.PatchSoftwareBreakpoints();
  EXPECT_TRUE(e.armed().empty());
  EXPECT_TRUE(e.patched().empty());
  EXPECT_EQ(e.uncovered().size(), 27u);
}

TEST_F(TrapEngineTest, MemoryThatDoesNotMatchIsNotPatched) {
  // A kernel that changed after the scan: the site's bytes are gone.
  const TlbSite& first = sites_.front();
  ASSERT_TRUE(mem_->WriteObject<uint8_t>(*first.paddr, 0x90).ok());
  TrapEngine e(Host(true), sites_, mem_.get(), 1, BreakpointPolicy::kSoftwareOnly);
  e.PatchSoftwareBreakpoints();
  EXPECT_EQ(e.patched().size(), 26u);
  ASSERT_EQ(e.uncovered().size(), 1u);
  EXPECT_EQ(e.uncovered()[0]->address, first.address);
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(*first.paddr), 0x90) << "left alone";
}

}  // namespace
}  // namespace tlbscope
