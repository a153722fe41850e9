// Kernel loading without KVM: the loaders write guest memory only.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "vmm/boot/boot_info.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Kernel(const std::string& name) { return std::string(TEST_KERNELS_DIR) + "/" + name; }

class BootTest : public ::testing::Test {
 protected:
  void SetUp() override { mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(64 << 20)); }
  absl::StatusOr<LoadedKernel> Load(const std::string& name, BootProtocol p = BootProtocol::kAuto,
                                    const std::string& cmdline = "") {
    return LoadKernel(Kernel(name), p, cmdline, *mem_);
  }
  std::string LoadError(const std::string& path_or_name, BootProtocol p = BootProtocol::kAuto) {
    std::string path = path_or_name[0] == '/' ? path_or_name : Kernel(path_or_name);
    absl::StatusOr<LoadedKernel> k = LoadKernel(path, p, "", *mem_);
    EXPECT_FALSE(k.ok());
    if (k.ok()) return "";
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    std::string msg(k.status().message());
    EXPECT_THAT(msg, StartsWith("kernel " + path + ": "));
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";
    return msg;
  }
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(BootTest, PvhElfLoadsAtItsAddressWithStartInfo) {
  absl::StatusOr<LoadedKernel> k = Load("pvh_hello.elf", BootProtocol::kAuto, "scenario=x");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kPvh);
  EXPECT_EQ(k->load_start, 0x200000u);
  EXPECT_EQ(k->ebx, layout::kBootInfo);
  auto start = std::find_if(k->symbols.begin(), k->symbols.end(),
                            [](const ElfSymbol& s) { return s.name == "_start"; });
  ASSERT_NE(start, k->symbols.end());
  EXPECT_EQ(k->entry, start->value);  // the note's entry is _start
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(layout::kBootInfo), 0x336ec578u);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(layout::kBootInfo + 24), layout::kCmdline);
  EXPECT_STREQ(reinterpret_cast<const char*>(*mem_->Ptr(layout::kCmdline, 11)), "scenario=x");
  // The first bytes at the entry are the kernel's: cmpl $imm, (%ebx) = 81 3b.
  EXPECT_EQ(*mem_->ReadObject<uint8_t>(k->entry), 0x81);
  // memmap: RAM up to the top of the 64 MiB.
  uint32_t entries = *mem_->ReadObject<uint32_t>(layout::kBootInfo + 48);
  ASSERT_EQ(entries, 3u);
  uint64_t last_addr = *mem_->ReadObject<uint64_t>(layout::kMemmap + 2 * 24);
  uint64_t last_size = *mem_->ReadObject<uint64_t>(layout::kMemmap + 2 * 24 + 8);
  EXPECT_EQ(last_addr + last_size, 64u << 20);
}

TEST_F(BootTest, MultibootAoutKludgeFlatBinary) {
  absl::StatusOr<LoadedKernel> k = Load("mb_aout.bin");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kMultiboot);
  EXPECT_EQ(k->eax, 0x2BADB002u);
  EXPECT_EQ(k->load_start, 0x200000u);
  EXPECT_GT(k->entry, 0x200000u);
  uint32_t flags = *mem_->ReadObject<uint32_t>(layout::kBootInfo);
  EXPECT_EQ(flags & 0x45, 0x45u);  // mem, cmdline, mmap
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(layout::kBootInfo + 8), (64u << 20) / 1024 - 1024);
}

TEST_F(BootTest, MultibootElf32UsesProgramHeaders) {
  absl::StatusOr<LoadedKernel> k = Load("mb_elf32.elf32");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->protocol, BootProtocol::kMultiboot);
  EXPECT_EQ(k->load_start, 0x200000u);
}

TEST_F(BootTest, ForcedProtocolThatFileLacks) {
  EXPECT_THAT(LoadError("mb_aout.bin", BootProtocol::kPvh), HasSubstr("needs an ELF file"));
  EXPECT_THAT(LoadError("mb_elf32.elf32", BootProtocol::kPvh), HasSubstr("no PVH entry note"));
  EXPECT_THAT(LoadError("pvh_hello.elf", BootProtocol::kMultiboot),
              HasSubstr("no Multiboot header"));
}

TEST_F(BootTest, MissingFile) {
  EXPECT_THAT(LoadError("/nonexistent/kernel"), HasSubstr("No such file or directory"));
}

TEST_F(BootTest, DirectoryIsNotAKernel) {
  EXPECT_THAT(LoadError("/tmp"), HasSubstr("not a regular file"));
}

TEST_F(BootTest, NotAnElf) {
  std::string path = ::testing::TempDir() + "/not_an_elf.txt";
  std::ofstream(path) << "this is plain text, not a kernel\n";
  EXPECT_THAT(LoadError(path), HasSubstr("not an ELF file"));
}

TEST_F(BootTest, EmptyFile) {
  std::string path = ::testing::TempDir() + "/empty_kernel";
  std::ofstream(path).close();
  EXPECT_THAT(LoadError(path), HasSubstr("empty"));
}

TEST_F(BootTest, NoUsableEntry) {
  EXPECT_THAT(LoadError("pvh_no_note.elf"), HasSubstr("no usable entry"));
}

TEST_F(BootTest, EntryOutsideImage) {
  EXPECT_THAT(LoadError("pvh_bad_entry.elf"), HasSubstr("no usable entry: entry point 0x12345678"));
}

TEST_F(BootTest, SegmentOutsideGuestMemory) {
  EXPECT_THAT(LoadError("pvh_high.elf"), HasSubstr("outside guest memory (64 MiB)"));
}

TEST_F(BootTest, SegmentOverBootData) {
  EXPECT_THAT(LoadError("pvh_low.elf"), HasSubstr("overlaps the boot data"));
}

TEST_F(BootTest, TruncatedElf) {
  EXPECT_THAT(LoadError("pvh_truncated.elf"), HasSubstr("truncated or corrupt ELF"));
}

TEST_F(BootTest, TruncatedMultibootImage) {
  std::ifstream in(Kernel("mb_aout.bin"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::string path = ::testing::TempDir() + "/mb_truncated.bin";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, 40);
  EXPECT_THAT(LoadError(path), HasSubstr("truncated"));
}

TEST_F(BootTest, CmdlineTooLong) {
  absl::StatusOr<LoadedKernel> k =
      Load("pvh_hello.elf", BootProtocol::kAuto, std::string(5000, 'a'));
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("--cmdline is 5000 bytes"));
}

TEST(MultibootHeaderTest, NeedsValidChecksum) {
  uint32_t words[4] = {0x1BADB002, 0x2, static_cast<uint32_t>(-(0x1BADB002 + 0x2)), 0};
  std::vector<uint8_t> bytes(64, 0);
  std::memcpy(bytes.data() + 8, words, sizeof(words));
  auto h = FindMultibootHeader(bytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->file_offset, 8u);
  EXPECT_EQ(h->flags, 2u);
  words[2] += 1;
  std::memcpy(bytes.data() + 8, words, sizeof(words));
  EXPECT_FALSE(FindMultibootHeader(bytes).has_value());
}

TEST(MpTableTest, ChecksumsAndProcessorEntries) {
  GuestMemory mem = *GuestMemory::Create(4 << 20);
  ASSERT_TRUE(WriteMpTable(mem, 4).ok());
  const uint8_t* fp = *mem.Ptr(layout::kMpTable, 16);
  ASSERT_EQ(std::memcmp(fp, "_MP_", 4), 0);
  uint8_t sum = 0;
  for (int i = 0; i < 16; ++i) sum += fp[i];
  EXPECT_EQ(sum, 0);
  uint32_t cfg;
  std::memcpy(&cfg, fp + 4, 4);
  const uint8_t* hdr = *mem.Ptr(cfg, 44);
  ASSERT_EQ(std::memcmp(hdr, "PCMP", 4), 0);
  uint16_t len, count;
  std::memcpy(&len, hdr + 4, 2);
  std::memcpy(&count, hdr + 34, 2);
  const uint8_t* all = *mem.Ptr(cfg, len);
  sum = 0;
  for (int i = 0; i < len; ++i) sum += all[i];
  EXPECT_EQ(sum, 0);
  // Walk the entries as a guest would.
  const uint8_t* p = all + 44;
  std::vector<int> apic_ids;
  for (int i = 0; i < count; ++i) {
    if (p[0] == 0) {
      if (p[3] & 1) apic_ids.push_back(p[1]);
      p += 20;
    } else {
      p += 8;
    }
  }
  EXPECT_EQ(p, all + len);
  EXPECT_EQ(apic_ids, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(WriteMpTable(mem, 0).ok());
}

}  // namespace
}  // namespace tlbscope
