// The loads a probe reads as the kernel did (vmm/linux/load_site.h): found
// in a function's straight-line start by Capstone; the value is the
// destination register at the instruction after the load.
#include "vmm/linux/load_site.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace tlbscope {
namespace {

constexpr uint64_t kFn = 0xffffffff810c10dd;
// 6.12's tlb_finish_mmu: push rbp; push rbx; mov rax, [rdi]; mov rbx, rdi;
// mov eax, [rax + 0x420] (mm_tlb_flush_nested); dec eax; jle ...
const std::vector<uint8_t> kFinish = {0x55, 0x53, 0x48, 0x8b, 0x07, 0x48, 0x89, 0xfb, 0x8b,
                                      0x80, 0x20, 0x04, 0x00, 0x00, 0xff, 0xc8, 0x7e, 0x0d};

TEST(LoadSiteTest, FindsTheNestedCheckOfTlbFinishMmu) {
  std::optional<LoadSite> s = FindLoad32(kFinish, kFn, 0x420);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->address, kFn + 8);
  EXPECT_EQ(s->length, 6);
  EXPECT_EQ(s->dest, X86_REG_EAX);
  EXPECT_EQ(s->base, X86_REG_RAX);
  EXPECT_THAT(s->text, ::testing::HasSubstr("0x420"));
  EXPECT_FALSE(FindLoad32(kFinish, kFn, 0x424).has_value());  // another field
}

TEST(LoadSiteTest, OnlyBeforeTheFirstCallAndOnlyFourBytes) {
  std::vector<uint8_t> call = {0xe8, 0, 0, 0, 0};  // call: the straight line ends
  call.insert(call.end(), kFinish.begin(), kFinish.end());
  EXPECT_FALSE(FindLoad32(call, kFn, 0x420).has_value());
  // mov rax, qword [rax + 0x420]: 8 bytes, not the counter
  const std::vector<uint8_t> wide = {0x48, 0x8b, 0x80, 0x20, 0x04, 0x00, 0x00, 0xc3};
  EXPECT_FALSE(FindLoad32(wide, kFn, 0x420).has_value());
  // mov [rax + 0x420], eax: a store
  const std::vector<uint8_t> store = {0x89, 0x80, 0x20, 0x04, 0x00, 0x00, 0xc3};
  EXPECT_FALSE(FindLoad32(store, kFn, 0x420).has_value());
  // mov r9d, [r12 + 0x420]: REX registers
  const std::vector<uint8_t> rex = {0x45, 0x8b, 0x8c, 0x24, 0x20, 0x04, 0x00, 0x00};
  std::optional<LoadSite> s = FindLoad32(rex, kFn, 0x420);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->dest, X86_REG_R9D);
  EXPECT_EQ(s->base, X86_REG_R12);
}

TEST(LoadSiteTest, TheValueIsTheDestinationRegisterAfterTheLoad) {
  LoadSite s = *FindLoad32(kFinish, kFn, 0x420);
  EXPECT_EQ(s.after(), kFn + 14);  // dec eax: where the int3 goes
  kvm_regs r{};
  r.rax = 0xffffffff00000002;  // only the 32-bit destination counts
  EXPECT_EQ(LoadedValue(s, r), 2u);
  const std::vector<uint8_t> rex = {0x45, 0x8b, 0x8c, 0x24, 0x20, 0x04, 0x00, 0x00};
  LoadSite r9 = *FindLoad32(rex, kFn, 0x420);
  r.r9 = 7;
  EXPECT_EQ(LoadedValue(r9, r), 7u);
  EXPECT_EQ(r9.after(), kFn + 8);
}

}  // namespace
}  // namespace tlbscope
