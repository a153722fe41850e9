// Hostile bzImages at the loader, without KVM: a payload that expands far
// past what it states (a decompression bomb), a size trailer larger than
// the guest, single-bit flips anywhere in the image, and an initrd too big
// for the guest (named by its own path).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "tests/common/synthetic_bzimage.h"
#include "vmm/boot/bzimage_crc.h"
#include "vmm/boot/kernel_loader.h"

namespace tlbscope {
namespace {

using testing::CompressLikeLinux;
using ::testing::HasSubstr;
using testing::MakeBzImage;

std::vector<uint8_t> HelloElf() {
  return testing::ReadAll(std::string(TEST_KERNELS_DIR) + "/pvh_hello.elf");
}

absl::StatusOr<LoadedKernel> LoadIn(uint64_t mem_mib, const std::vector<uint8_t>& bz,
                                    const std::vector<uint8_t>& initrd = {}) {
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(mem_mib << 20);
  if (!mem.ok()) return mem.status();
  return LoadKernelBytes(bz, "bz", BootProtocol::kAuto, "", *mem, InitrdFile{initrd, "rd.img"});
}

void SetTrailer(std::vector<uint8_t>& payload, uint32_t size) {
  std::memcpy(payload.data() + payload.size() - 4, &size, 4);
}

class BombTest : public ::testing::TestWithParam<Compression> {};

// 12 MiB of zeros states its size truthfully: more than a 4 MiB guest,
// refused before anything expands.
TEST_P(BombTest, TrailerLargerThanTheGuestIsRefusedUpFront) {
  std::vector<uint8_t> payload = CompressLikeLinux(GetParam(), std::vector<uint8_t>(12 << 20));
  absl::StatusOr<LoadedKernel> k = LoadIn(4, MakeBzImage({}, payload));
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(),
              HasSubstr("its size trailer states 12582912 bytes, more than the 4 MiB"));
}

// The same bytes stating 4 KiB: the expansion stops at 4 KiB + 1.
TEST_P(BombTest, PayloadExpandingPastItsTrailerStopsThere) {
  std::vector<uint8_t> payload = CompressLikeLinux(GetParam(), std::vector<uint8_t>(12 << 20));
  SetTrailer(payload, 4096);
  absl::StatusOr<LoadedKernel> k = LoadIn(64, MakeBzImage({}, payload));
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("expands past the 4096 bytes its size trailer"));
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
}

// A valid kernel stating 100 bytes more than it holds.
TEST_P(BombTest, PayloadShorterThanItsTrailerIsRefused) {
  std::vector<uint8_t> elf = HelloElf();
  std::vector<uint8_t> payload = CompressLikeLinux(GetParam(), elf);
  SetTrailer(payload, static_cast<uint32_t>(elf.size() + 100));
  absl::StatusOr<LoadedKernel> k = LoadIn(64, MakeBzImage({}, payload));
  ASSERT_FALSE(k.ok());
  // gzip's own ISIZE is the trailer: zlib checks it first.
  EXPECT_THAT(k.status().message(),
              HasSubstr(GetParam() == Compression::kGzip
                            ? "incorrect length check"
                            : absl::StrFormat("expands to %d bytes, not the %d its size trailer "
                                              "states",
                                              elf.size(), elf.size() + 100)));
}

INSTANTIATE_TEST_SUITE_P(Formats, BombTest,
                         ::testing::Values(Compression::kGzip, Compression::kXz,
                                           Compression::kLz4Legacy, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

// Every single-bit flip in an lz4 bzImage (whose legacy frames carry no
// checksum) is refused: none loads.
TEST(BitFlipTest, EveryFlippedBitInAnLz4ImageIsRefused) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kLz4Legacy, HelloElf()));
  ASSERT_TRUE(LoadIn(64, bz).ok());
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(64 << 20);
  ASSERT_TRUE(mem.ok());
  int loaded = 0, tried = 0;
  for (size_t byte = 0; byte < bz.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      bz[byte] ^= 1u << bit;
      ++tried;
      if (LoadKernelBytes(bz, "bz", BootProtocol::kAuto, "", *mem).ok()) ++loaded;
      bz[byte] ^= 1u << bit;
    }
  }
  EXPECT_EQ(loaded, 0) << "of " << tried << " flipped bits";
  EXPECT_EQ(tried, static_cast<int>(bz.size() * 8));
}

// A signed image (sbsign rewrote the PE header the CRC covers) is not
// checked; the same change without a certificate table is refused.
TEST(BitFlipTest, SignedImagesSkipTheCrc) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kGzip, HelloElf()));
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(bz.data() + off, &v, 4); };
  bz[0] = 'M';
  bz[1] = 'Z';
  put32(0x3c, 0x40);
  std::memcpy(bz.data() + 0x40, "PE\0\0", 4);
  bz[0x58] = 0x0b;  // PE32+
  bz[0x59] = 0x02;
  absl::StatusOr<LoadedKernel> k = LoadIn(64, bz);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("corrupt bzImage: its CRC-32 at file offset"));
  put32(0x58 + 112 + 4 * 8 + 4, 0x800);  // the certificate table's size
  k = LoadIn(64, bz);
  EXPECT_TRUE(k.ok()) << k.status();
}

TEST(InitrdTest, TooBigNamesTheInitrdNotTheKernel) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kGzip, HelloElf()));
  absl::StatusOr<LoadedKernel> k = LoadIn(16, bz, std::vector<uint8_t>(20 << 20, 1));
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("initrd rd.img: too big"));
  EXPECT_THAT(k.status().message(), ::testing::Not(HasSubstr("bz")));
}

}  // namespace
}  // namespace tlbscope
