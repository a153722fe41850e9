// `tlbscope sites` on an ELF with TLB instructions at known labels.

#include "vmm/trap/site_scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/match.h"
#include "common/file_bytes.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

std::string Kernel(const std::string& name) { return std::string(TEST_KERNELS_DIR) + "/" + name; }

class SiteScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<uint8_t> bytes = *ReadFileBytes(Kernel("tlb_sites.elf"), "test");
    absl::StatusOr<ElfFile> elf = ParseElf(bytes, "tlb_sites.elf");
    ASSERT_TRUE(elf.ok()) << elf.status();
    for (const ElfSymbol& s : elf->symbols) {
      if (absl::StartsWith(s.name, "expect_")) expected_[s.value] = s.name;
    }
    ASSERT_EQ(expected_.size(), 30u);  // 16 CR3 + 1 PTI CR3 + 10 INVLPG + 3 INVPCID
    absl::StatusOr<SiteScan> scan = ScanTlbSitesInFile(Kernel("tlb_sites.elf"));
    ASSERT_TRUE(scan.ok()) << scan.status();
    for (const TlbSite& s : scan->sites) found_[s.address] = s;
  }
  const TlbSite& At(const std::string& label) {
    for (const auto& [addr, name] : expected_) {
      if (name == label) {
        EXPECT_TRUE(found_.contains(addr)) << label;
        return found_[addr];
      }
    }
    ADD_FAILURE() << "no label " << label;
    return found_[0];
  }
  std::map<uint64_t, std::string> expected_;
  std::map<uint64_t, TlbSite> found_;
};

TEST_F(SiteScannerTest, FindsExactlyTheLabelledSites) {
  for (const auto& [addr, name] : expected_) {
    ASSERT_TRUE(found_.contains(addr)) << name << " at " << std::hex << addr << " not found";
    TlbInsn want = absl::StartsWith(name, "expect_cr3_")      ? TlbInsn::kMovCr3
                   : absl::StartsWith(name, "expect_invlpg_") ? TlbInsn::kInvlpg
                                                              : TlbInsn::kInvpcid;
    EXPECT_EQ(found_[addr].kind, want) << name;
  }
  // No decoy (CR3 read, CR4/CR0 write, bytes inside immediates or data).
  for (const auto& [addr, site] : found_) {
    EXPECT_TRUE(expected_.contains(addr))
        << "unexpected site " << site.text << " at " << std::hex << addr;
  }
}

TEST_F(SiteScannerTest, EveryCr3SourceRegister) {
  const std::map<std::string, x86_reg> regs = {
      {"rax", X86_REG_RAX}, {"rbx", X86_REG_RBX}, {"rcx", X86_REG_RCX}, {"rdx", X86_REG_RDX},
      {"rsi", X86_REG_RSI}, {"rdi", X86_REG_RDI}, {"rbp", X86_REG_RBP}, {"rsp", X86_REG_RSP},
      {"r8", X86_REG_R8},   {"r9", X86_REG_R9},   {"r10", X86_REG_R10}, {"r11", X86_REG_R11},
      {"r12", X86_REG_R12}, {"r13", X86_REG_R13}, {"r14", X86_REG_R14}, {"r15", X86_REG_R15}};
  for (const auto& [name, reg] : regs) {
    const TlbSite& s = At("expect_cr3_" + name);
    EXPECT_EQ(s.reg, reg) << name;
    EXPECT_EQ(s.text, "mov cr3, " + name);
    EXPECT_EQ(s.length, reg >= X86_REG_R8 && reg <= X86_REG_R15 ? 4 : 3) << name;
  }
}

TEST_F(SiteScannerTest, InvlpgMemoryOperands) {
  const TlbSite& sib = At("expect_invlpg_sib");
  EXPECT_EQ(sib.mem.base, X86_REG_RAX);
  EXPECT_EQ(sib.mem.index, X86_REG_RCX);
  EXPECT_EQ(sib.mem.scale, 8);
  EXPECT_EQ(sib.mem.disp, 0x10);
  const TlbSite& index = At("expect_invlpg_index");
  EXPECT_EQ(index.mem.base, X86_REG_INVALID);
  EXPECT_EQ(index.mem.index, X86_REG_RDX);
  EXPECT_EQ(index.mem.scale, 4);
  EXPECT_EQ(index.mem.disp, 0x1000);
  EXPECT_TRUE(At("expect_invlpg_rip").mem.rip_relative());
  EXPECT_EQ(At("expect_invlpg_fs").mem.segment, X86_REG_FS);
  const TlbSite& gs = At("expect_invlpg_gs_sib");
  EXPECT_EQ(gs.mem.segment, X86_REG_GS);
  EXPECT_EQ(gs.mem.base, X86_REG_R12);
  EXPECT_EQ(gs.mem.index, X86_REG_R13);
  EXPECT_EQ(gs.mem.scale, 2);
  const TlbSite& a32 = At("expect_invlpg_addr32");
  EXPECT_EQ(a32.mem.base, X86_REG_EAX);
  EXPECT_EQ(a32.bytes.front(), 0x67);  // address-size prefix
  EXPECT_EQ(At("expect_invlpg_abs").mem.disp, 0x12345678);
  EXPECT_EQ(At("expect_invlpg_r15").mem.disp, -8);
}

TEST_F(SiteScannerTest, InvpcidTypeRegisterAndDescriptor) {
  const TlbSite& s = At("expect_invpcid_r8_sib");
  EXPECT_EQ(s.reg, X86_REG_R8);
  EXPECT_EQ(s.mem.base, X86_REG_R9);
  EXPECT_EQ(s.mem.index, X86_REG_R10);
  EXPECT_EQ(s.mem.scale, 4);
  EXPECT_EQ(s.mem.disp, 0x20);
  EXPECT_TRUE(At("expect_invpcid_rip").mem.rip_relative());
  EXPECT_EQ(At("expect_invpcid_rax").bytes.front(), 0x66);
}

TEST_F(SiteScannerTest, SymbolsAndClasses) {
  const TlbSite& rbx = At("expect_cr3_rbx");
  EXPECT_EQ(rbx.symbol, "func_switch_mm");
  EXPECT_EQ(rbx.symbol_offset, 3u);
  EXPECT_EQ(rbx.klass, SiteClass::kSwitchMm);
  EXPECT_EQ(At("expect_invlpg_sib").symbol, "func_flush_one");
  EXPECT_EQ(At("expect_invlpg_sib").klass, SiteClass::kFlush);
  const TlbSite& pti = At("expect_cr3_pti");
  EXPECT_EQ(pti.symbol, "entry_SYSCALL_64");
  EXPECT_EQ(pti.symbol_offset, 1u);
  EXPECT_EQ(pti.section, ".entry.text");
  EXPECT_EQ(pti.klass, SiteClass::kEntryPti);
}

TEST(SiteScannerStrippedTest, SameSitesWithoutSymbols) {
  absl::StatusOr<SiteScan> full = ScanTlbSitesInFile(Kernel("tlb_sites.elf"));
  absl::StatusOr<SiteScan> stripped = ScanTlbSitesInFile(Kernel("tlb_sites_stripped.elf"));
  ASSERT_TRUE(full.ok() && stripped.ok());
  ASSERT_EQ(full->sites.size(), stripped->sites.size());
  for (size_t i = 0; i < full->sites.size(); ++i) {
    EXPECT_EQ(full->sites[i].address, stripped->sites[i].address);
    EXPECT_EQ(full->sites[i].text, stripped->sites[i].text);
    EXPECT_EQ(stripped->sites[i].symbol, "");
  }
  EXPECT_EQ(stripped->sites.back().klass, SiteClass::kEntryPti);  // from the section name
}

TEST(SiteScannerErrorsTest, BadFiles) {
  EXPECT_THAT(ScanTlbSitesInFile("/nonexistent").status().message(),
              HasSubstr("kernel /nonexistent: No such file or directory"));
  EXPECT_THAT(ScanTlbSitesInFile(Kernel("mb_aout.bin")).status().message(),
              HasSubstr("not an ELF file"));
  EXPECT_THAT(ScanTlbSitesInFile(Kernel("pvh_truncated.elf")).status().message(),
              HasSubstr("truncated or corrupt ELF"));
}

TEST(DecodeTlbInsnTest, SingleInstructions) {
  const uint8_t cr3[] = {0x0f, 0x22, 0xdf};  // mov %rdi,%cr3
  auto s = DecodeTlbInsn(cr3, 0x1000, true);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->kind, TlbInsn::kMovCr3);
  EXPECT_EQ(s->reg, X86_REG_RDI);
  const uint8_t cr4[] = {0x0f, 0x22, 0xe7};  // mov %rdi,%cr4
  EXPECT_FALSE(DecodeTlbInsn(cr4, 0x1000, true).has_value());
  const uint8_t invpcid[] = {0x66, 0x0f, 0x38, 0x82, 0x32};  // invpcid (%rdx),%rsi
  s = DecodeTlbInsn(invpcid, 0x1000, true);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->kind, TlbInsn::kInvpcid);
  EXPECT_EQ(s->reg, X86_REG_RSI);
  EXPECT_EQ(s->mem.base, X86_REG_RDX);
}

TEST(DecodeStepInsnTest, WhatEndsOrChangesAWindow) {
  auto d = [](std::vector<uint8_t> b, int bits) { return *DecodeStepInsn(b, 0x1000, bits); };
  EXPECT_TRUE(d({0x48, 0xcf}, 64).is_iret);  // iretq
  EXPECT_TRUE(d({0xcf}, 32).is_iret);
  EXPECT_TRUE(d({0x48, 0x0f, 0x07}, 64).returns_to_user);  // sysretq
  EXPECT_TRUE(d({0x9c}, 64).is_pushf);
  EXPECT_TRUE(d({0xf4}, 64).is_hlt);
  EXPECT_TRUE(d({0xcd, 0x80}, 64).ends_window);                // int $0x80
  EXPECT_TRUE(d({0x0f, 0x05}, 64).ends_window);                // syscall
  EXPECT_EQ(d({0x0f, 0x22, 0xd8}, 16).tlb, TlbInsn::kMovCr3);  // real mode too
  EXPECT_EQ(d({0x0f, 0x01, 0x38}, 32).tlb, TlbInsn::kInvlpg);
  EXPECT_FALSE(d({0x90}, 64).tlb.has_value());
  EXPECT_FALSE(DecodeStepInsn(std::vector<uint8_t>{0x0f}, 0x1000, 64).has_value());
}

TEST(ClassifySiteTest, LinuxNames) {
  EXPECT_EQ(ClassifySite(TlbInsn::kMovCr3, "switch_mm_irqs_off", ".text"), SiteClass::kSwitchMm);
  EXPECT_EQ(ClassifySite(TlbInsn::kMovCr3, "native_flush_tlb_local", ".text"), SiteClass::kFlush);
  EXPECT_EQ(ClassifySite(TlbInsn::kMovCr3, "entry_SYSCALL_64", ".entry.text"),
            SiteClass::kEntryPti);
  EXPECT_EQ(ClassifySite(TlbInsn::kMovCr3, "secondary_startup_64", ".head.text"), SiteClass::kBoot);
  EXPECT_EQ(ClassifySite(TlbInsn::kMovCr3, "", ".text"), SiteClass::kOther);
  EXPECT_EQ(ClassifySite(TlbInsn::kInvlpg, "", ".text"), SiteClass::kFlush);
}

}  // namespace
}  // namespace tlbscope
