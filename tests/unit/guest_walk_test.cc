#include "vmm/trap/guest_walk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kP = 1, kW = 2, kPs = 0x80;
constexpr uint64_t kPg = 1ull << 31, kPe = 1, kPae = 1 << 5, kLa57 = 1 << 12, kLma = 1 << 10;

class GuestWalkTest : public ::testing::Test {
 protected:
  void SetUp() override { mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(8 << 20)); }
  void Set(uint64_t table, int index, uint64_t entry) {
    ASSERT_TRUE(mem_->WriteObject(table + index * 8, entry).ok());
  }
  static int Index(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 0x1ff; }
  PagingMode LongMode(uint64_t cr3, bool la57 = false) {
    return {kPg | kPe, cr3, kPae | (la57 ? kLa57 : 0), kLma};
  }
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(GuestWalkTest, FourLevel4KiBPage) {
  const uint64_t va = 0x00007f1234567000ull;
  Set(0x1000, Index(va, 4), 0x2000 | kP | kW);
  Set(0x2000, Index(va, 3), 0x3000 | kP | kW);
  Set(0x3000, Index(va, 2), 0x4000 | kP | kW);
  Set(0x4000, Index(va, 1), 0x50000 | kP | kW);
  absl::StatusOr<uint64_t> gpa = TranslateGva(*mem_, LongMode(0x1000), va + 0x123);
  ASSERT_TRUE(gpa.ok()) << gpa.status();
  EXPECT_EQ(*gpa, 0x50123u);
}

TEST_F(GuestWalkTest, LargePages) {
  const uint64_t va2m = 0xffff800040200000ull, va1g = 0xffff8000c0000000ull;
  Set(0x1000, Index(va2m, 4), 0x2000 | kP);
  Set(0x2000, Index(va2m, 3), 0x3000 | kP);
  Set(0x3000, Index(va2m, 2), 0x600000 | kP | kPs);
  Set(0x2000, Index(va1g, 3), 0x40000000 | kP | kPs);
  EXPECT_EQ(*TranslateGva(*mem_, LongMode(0x1000), va2m + 0x1234f), 0x61234fu);
  EXPECT_EQ(*TranslateGva(*mem_, LongMode(0x1000), va1g + 0x3456789), 0x43456789u);
}

TEST_F(GuestWalkTest, FiveLevel) {
  const uint64_t va = 0x00ff000000001000ull;  // needs the fifth level
  Set(0x6000, Index(va, 5), 0x1000 | kP);
  Set(0x1000, Index(va, 4), 0x2000 | kP);
  Set(0x2000, Index(va, 3), 0x3000 | kP);
  Set(0x3000, Index(va, 2), 0x4000 | kP);
  Set(0x4000, Index(va, 1), 0x70000 | kP);
  EXPECT_EQ(*TranslateGva(*mem_, LongMode(0x6000, /*la57=*/true), va + 8), 0x70008u);
  // The same walk read as 4-level lands elsewhere and finds nothing.
  EXPECT_FALSE(TranslateGva(*mem_, LongMode(0x6000), va).ok());
}

TEST_F(GuestWalkTest, NotPresentNamesLevel) {
  const uint64_t va = 0x1000;
  Set(0x1000, 0, 0x2000 | kP);
  absl::StatusOr<uint64_t> r = TranslateGva(*mem_, LongMode(0x1000), va);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not present at level 3"));
}

TEST_F(GuestWalkTest, TableOutsideMemory) {
  Set(0x1000, 0, 0x7ff000000ull | kP);
  absl::StatusOr<uint64_t> r = TranslateGva(*mem_, LongMode(0x1000), 0x1000);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("outside guest memory"));
}

TEST_F(GuestWalkTest, NoPagingIsIdentity) {
  PagingMode off{kPe, 0, 0, 0};
  EXPECT_EQ(*TranslateGva(*mem_, off, 0x123456), 0x123456u);
}

TEST_F(GuestWalkTest, Pae32Bit) {
  const uint64_t va = 0xc0401000;
  Set(0x1000, (va >> 30) & 3, 0x2000 | kP);  // PDPTE
  Set(0x2000, (va >> 21) & 0x1ff, 0x3000 | kP);
  Set(0x3000, (va >> 12) & 0x1ff, 0x90000 | kP);
  PagingMode pae{kPg | kPe, 0x1000, kPae, 0};
  EXPECT_EQ(*TranslateGva(*mem_, pae, va + 4), 0x90004u);
}

TEST_F(GuestWalkTest, ReadAcrossAPageBoundary) {
  // Two consecutive virtual pages backed by non-adjacent physical pages.
  const uint64_t va = 0x400000;
  Set(0x1000, 0, 0x2000 | kP);
  Set(0x2000, 0, 0x3000 | kP);
  Set(0x3000, 2, 0x4000 | kP);
  Set(0x4000, 0, 0x80000 | kP);
  Set(0x4000, 1, 0x20000 | kP);
  ASSERT_TRUE(mem_->Write(0x80ff8, std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}).ok());
  ASSERT_TRUE(mem_->Write(0x20000, std::vector<uint8_t>{9, 10, 11, 12, 13, 14, 15, 16}).ok());
  std::array<uint8_t, 16> out{};
  ASSERT_TRUE(ReadGuestVirtual(*mem_, LongMode(0x1000), va + 0xff8, out).ok());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], i + 1);
}

// A write across a page boundary lands on both physical pages; when the
// second page does not translate, or is outside memory, nothing is written.
TEST_F(GuestWalkTest, WriteAcrossAPageBoundaryIsAllOrNothing) {
  const uint64_t va = 0x400000;
  Set(0x1000, 0, 0x2000 | kP);
  Set(0x2000, 0, 0x3000 | kP);
  Set(0x3000, 2, 0x4000 | kP);
  Set(0x4000, 0, 0x80000 | kP);
  Set(0x4000, 1, 0x60000 | kP);
  uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(WriteGuestVirtual(*mem_, LongMode(0x1000), va + 0xffc, in).ok());
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(0x80ffc), 0x04030201u);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(0x60000), 0x08070605u);
  Set(0x4000, 1, 0);  // the second page gone
  uint8_t zeros[8] = {};
  absl::Status s = WriteGuestVirtual(*mem_, LongMode(0x1000), va + 0xffc, zeros);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(0x80ffc), 0x04030201u) << "first page untouched";
  Set(0x4000, 1, 0x7ff000000ull | kP);  // beyond guest memory
  s = WriteGuestVirtual(*mem_, LongMode(0x1000), va + 0xffc, zeros);
  EXPECT_THAT(s.message(), HasSubstr("outside guest memory"));
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(0x80ffc), 0x04030201u);
}

}  // namespace
}  // namespace tlbscope
