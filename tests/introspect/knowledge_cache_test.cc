// The build-id cache of kernel knowledge: a cached load gives exactly what
// reading the kernel gives, and a bad cache file (corrupt, truncated, for
// another kernel or other sources, not a file) is one line and a fresh read.
#include "introspect/knowledge_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tlbscope/v1/kernel_cache.pb.h"

namespace tlbscope::introspect {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

std::string Text(const std::string& path) {
  std::vector<uint8_t> b = ReadAll(path);
  return std::string(b.begin(), b.end());
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

const std::string kBtf = std::string(FAKE_KERNEL_DIR) + "/fake_kernel.btf";

void ExpectSame(const KernelKnowledge& a, const KernelKnowledge& b) {
  EXPECT_EQ(a.build_id, b.build_id);
  EXPECT_EQ(a.banner, b.banner);
  EXPECT_EQ(a.Summary(), b.Summary());
  EXPECT_EQ(a.missing, b.missing);
  EXPECT_EQ(a.symbols.source(), b.symbols.source());
  EXPECT_EQ(a.symbols.Entries(), b.symbols.Entries());
  for (const FieldRequest& r : FieldRequests()) {
    const Field &x = a.layout.*r.dest, &y = b.layout.*r.dest;
    EXPECT_EQ(std::tie(x.offset, x.bit, x.bits, x.size, x.found),
              std::tie(y.offset, y.bit, y.bits, y.size, y.found))
        << r.type << "." << r.path;
  }
  EXPECT_EQ(a.layout.ts_ctxs_count, b.layout.ts_ctxs_count);
  EXPECT_EQ(a.layout.tlb_context_size, b.layout.tlb_context_size);
  EXPECT_EQ(a.layout.pcpu_cpu_tlbstate, b.layout.pcpu_cpu_tlbstate);
  EXPECT_EQ(a.layout.has_pcpu_cpu_tlbstate_shared, b.layout.has_pcpu_cpu_tlbstate_shared);
  EXPECT_EQ(a.layout.source, b.layout.source);
  EXPECT_EQ(a.layout.page_struct_size, b.layout.page_struct_size);
  EXPECT_EQ(a.layout.alt_instr_size, b.layout.alt_instr_size);
  EXPECT_EQ(a.layout.membarrier_sync_core_state, b.layout.membarrier_sync_core_state);
  EXPECT_EQ(a.layout.system_scheduling_state, b.layout.system_scheduling_state);
  EXPECT_EQ(a.addresses.switch_mm_irqs_off, b.addresses.switch_mm_irqs_off);
  EXPECT_EQ(a.addresses.flush_tlb_func, b.addresses.flush_tlb_func);
  EXPECT_EQ(a.addresses.per_cpu_offset, b.addresses.per_cpu_offset);
}

class KnowledgeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    elf_ = ReadAll(std::string(FAKE_KERNEL_DIR) + "/fake_kernel.elf");
    ASSERT_FALSE(elf_.empty());
    dir_ = ::testing::TempDir() + "/kcache-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(elf_, {"", kBtf});
    ASSERT_TRUE(k.ok()) << k.status();
    fresh_ = *std::move(k);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A cached load that must succeed; returns the note.
  CacheNote Load(const KnowledgeSources& src = {"", kBtf}) {
    CacheNote note;
    absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledgeCached(elf_, src, dir_, &note);
    EXPECT_TRUE(k.ok()) << k.status();
    if (k.ok() && src.btf_file == kBtf) ExpectSame(*k, fresh_);
    return note;
  }
  std::string File() { return dir_ + "/" + KernelCacheKey(elf_); }

  std::vector<uint8_t> elf_;
  std::string dir_;
  KernelKnowledge fresh_;
};

TEST_F(KnowledgeCacheTest, SecondLoadComesFromTheCacheAndIsTheSame) {
  CacheNote first = Load();
  EXPECT_FALSE(first.hit);
  EXPECT_EQ(first.line, "");
  EXPECT_EQ(first.path, File());
  ASSERT_TRUE(std::filesystem::exists(File()));
  CacheNote second = Load();
  EXPECT_TRUE(second.hit);
  EXPECT_EQ(second.line, "");
  EXPECT_GT(fresh_.symbols.size(), 0u);
  EXPECT_EQ(fresh_.layout.source.find("fake_kernel.btf") != std::string::npos, true);
}

TEST_F(KnowledgeCacheTest, KeyIsTheBuildIdElseTheImageHash) {
  std::string key = KernelCacheKey(elf_);
  if (fresh_.build_id.empty()) {
    EXPECT_THAT(key, StartsWith("sha256-"));
  } else {
    EXPECT_EQ(key, fresh_.build_id);
  }
  std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'e', 'l', 'f'};
  std::string k1 = KernelCacheKey(junk);
  EXPECT_THAT(k1, StartsWith("sha256-"));
  EXPECT_EQ(k1.size(), 7u + 64u);
  EXPECT_EQ(k1.find_first_not_of("0123456789abcdef", 7), std::string::npos);
  junk[0] = 'N';
  EXPECT_NE(KernelCacheKey(junk), k1);
}

TEST_F(KnowledgeCacheTest, CorruptTruncatedAndForeignFilesAreOneLineAndReplaced) {
  Load();
  const std::string good = Text(File());
  struct Case {
    std::string bytes;
    const char* says;
  };
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  const Case cases[] = {
      {flipped, "corrupt or truncated (checksum)"},
      {good.substr(0, good.size() / 2), "corrupt or truncated (checksum)"},
      {good.substr(0, 20), "truncated (20 bytes)"},
      {"", "truncated (0 bytes)"},
      {"#!/bin/sh\nrm -rf /\n" + std::string(100, 'x'), "not a tlbscope kernel cache file"},
  };
  for (const Case& c : cases) {
    Write(File(), c.bytes);
    CacheNote note = Load();
    EXPECT_FALSE(note.hit) << c.says;
    EXPECT_THAT(note.line, HasSubstr("kernel cache " + File() + ": " + c.says)) << note.line;
    EXPECT_THAT(note.line, HasSubstr("; reading the kernel"));
    EXPECT_EQ(note.line.find('\n'), std::string::npos);
    EXPECT_TRUE(Load().hit) << "rewritten after " << c.says;
  }
}

TEST_F(KnowledgeCacheTest, AValidFileOfAnotherKernelOrOtherSourcesIsNotUsed) {
  std::string key = KernelCacheKey(elf_);
  std::filesystem::create_directories(dir_);
  Write(File(), EncodeKnowledgeCache(fresh_, "0123abcd", SourcesFingerprint({"", kBtf})));
  CacheNote note = Load();
  EXPECT_THAT(note.line, HasSubstr("is for kernel 0123abcd, not " + key));
  // Read with the BTF file; now asked without it (layouts from DWARF).
  ASSERT_TRUE(Load().hit);
  CacheNote other = Load({"", ""});
  EXPECT_FALSE(other.hit);
  EXPECT_THAT(other.line, HasSubstr("was read with other sources"));
  CacheNote dwarf;
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledgeCached(elf_, {"", ""}, dir_, &dwarf);
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(dwarf.hit);
  EXPECT_EQ(k->layout.source, "DWARF");
}

// A file with a good checksum but contents no tlbscope wrote.
TEST_F(KnowledgeCacheTest, ChecksummedButWrongContentsAreRejected) {
  std::string src = SourcesFingerprint({"", kBtf});
  std::string key = KernelCacheKey(elf_);
  std::string good = EncodeKnowledgeCache(fresh_, key, src);
  EXPECT_EQ(SealKnowledgeCache(good.substr(8 + 32)), good);
  v1::KernelKnowledgeCache pb;
  ASSERT_TRUE(pb.ParseFromString(good.substr(8 + 32)));
  v1::KernelKnowledgeCache bad_format = pb;
  bad_format.set_format(1);  // an older tlbscope's
  v1::KernelKnowledgeCache no_field = pb;
  no_field.mutable_fields()->RemoveLast();
  v1::KernelKnowledgeCache renamed = pb;
  renamed.mutable_fields(0)->set_name("mm_struct.nonsense");
  v1::KernelKnowledgeCache wild = pb;
  wild.mutable_fields(0)->set_offset(1u << 30);
  v1::KernelKnowledgeCache wild_alt = pb;
  wild_alt.set_alt_instr_size(1u << 20);
  struct Case {
    std::string body;
    const char* says;
  };
  for (const Case& c : {Case{bad_format.SerializeAsString(), "format 1, this tlbscope reads "},
                        Case{no_field.SerializeAsString(), "layout fields"},
                        Case{renamed.SerializeAsString(), "lacks layout field mm_struct.pgd"},
                        Case{wild.SerializeAsString(), "impossible layout field"},
                        Case{wild_alt.SerializeAsString(), "impossible alt_instr size"},
                        Case{std::string(64, '\xff'), "does not parse"}}) {
    absl::StatusOr<KernelKnowledge> k = DecodeKnowledgeCache(SealKnowledgeCache(c.body), key, src);
    ASSERT_FALSE(k.ok()) << c.says;
    EXPECT_THAT(std::string(k.status().message()), HasSubstr(c.says));
  }
  ASSERT_TRUE(DecodeKnowledgeCache(good, key, src).ok());
}

TEST_F(KnowledgeCacheTest, NotAFileAndAnUnwritableDirectoryStillLoad) {
  std::filesystem::create_directories(File());  // a directory where the file goes
  CacheNote dir = Load();
  EXPECT_FALSE(dir.hit);
  EXPECT_THAT(dir.line, HasSubstr("not a regular file"));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  std::string target = dir_ + "-target";
  Write(target, "not to be touched");
  std::filesystem::create_symlink(target, File());
  CacheNote link = Load();
  EXPECT_FALSE(link.hit);
  EXPECT_THAT(link.line, HasSubstr("kernel cache " + File()));
  EXPECT_EQ(Text(target), "not to be touched") << "never read or written through a link";
  EXPECT_FALSE(std::filesystem::is_symlink(File())) << "the link itself is replaced";
  EXPECT_TRUE(Load().hit);
  std::filesystem::remove(target);
  CacheNote nowhere;
  absl::StatusOr<KernelKnowledge> k =
      LoadKernelKnowledgeCached(elf_, {"", kBtf}, "/proc/self/no-such-cache", &nowhere);
  ASSERT_TRUE(k.ok());
  ExpectSame(*k, fresh_);
  EXPECT_THAT(nowhere.line, HasSubstr("not written"));
}

TEST(KernelCacheDirTest, EnvironmentChoosesTheDirectory) {
  const char* home = std::getenv("HOME");
  std::string saved_home = home != nullptr ? home : "";
  ::setenv("TLBSCOPE_KERNEL_CACHE", "off", 1);
  EXPECT_EQ(DefaultKernelCacheDir(), "");
  ::setenv("TLBSCOPE_KERNEL_CACHE", "/x/y", 1);
  EXPECT_EQ(DefaultKernelCacheDir(), "/x/y");
  ::unsetenv("TLBSCOPE_KERNEL_CACHE");
  ::setenv("XDG_CACHE_HOME", "/c", 1);
  EXPECT_EQ(DefaultKernelCacheDir(), "/c/tlbscope/kernels");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/h", 1);
  EXPECT_EQ(DefaultKernelCacheDir(), "/h/.cache/tlbscope/kernels");
  ::setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace tlbscope::introspect
