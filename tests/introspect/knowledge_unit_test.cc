// Kernel knowledge on small inputs (no Linux kernel needed): System.map
// parsing, bad BTF blobs, an ELF with neither BTF nor DWARF.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "introspect/btf_layout.h"
#include "introspect/kallsyms.h"
#include "introspect/knowledge.h"

namespace tlbscope::introspect {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

TEST(SystemMapTest, ParsesNmLines) {
  absl::StatusOr<KernelSymbols> s = SymbolsFromSystemMap(
      "ffffffff81000000 T _text\nffffffff81234560 t flush_tlb_func\n"
      "000000000002a6c0 D cpu_tlbstate\n",
      "map");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->size(), 3u);
  EXPECT_EQ(s->Find("flush_tlb_func"), 0xffffffff81234560u);
  EXPECT_EQ(s->Find("cpu_tlbstate"), 0x2a6c0u);
  EXPECT_EQ(s->NameAt(0xffffffff81234564u), "flush_tlb_func+0x4");
  EXPECT_FALSE(s->Find("nope").has_value());
}

TEST(SystemMapTest, BadLineIsNamed) {
  absl::StatusOr<KernelSymbols> s =
      SymbolsFromSystemMap("ffffffff81000000 T _text\nthis is not nm output\n", "x.map");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("x.map line 2"));
}

TEST(BtfLayoutTest, CorruptBlobIsOneError) {
  std::vector<uint8_t> junk(4096, 0x5a);
  junk[0] = 0x9f;  // BTF magic 0xeb9f, little-endian
  junk[1] = 0xeb;
  std::vector<std::string> missing;
  absl::StatusOr<KernelLayout> l = LayoutFromBtf(junk, "junk.btf", &missing);
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(std::string(l.status().message()), HasSubstr("BTF junk.btf: libbpf rejected it"));
  EXPECT_FALSE(LayoutFromBtf(std::vector<uint8_t>(8, 0), "short", &missing).ok());
}

// tlb_sites.elf: a small ELF with a symtab but no BTF, no DWARF, no kallsyms.
TEST(KnowledgeTest, ElfWithoutBtfOrDwarfNamesWhatIsMissing) {
  std::vector<uint8_t> elf = ReadAll(std::string(TEST_KERNELS_DIR) + "/tlb_sites.elf");
  ASSERT_FALSE(elf.empty());
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(elf, {});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_FALSE(k->complete());
  std::string line = k->Summary();
  EXPECT_THAT(line, HasSubstr("struct layouts"));
  EXPECT_THAT(line, HasSubstr("no DWARF"));
  EXPECT_THAT(line, HasSubstr("symbol switch_mm_irqs_off"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_FALSE(SymbolsFromKallsyms(elf).ok());
}

TEST(KnowledgeTest, NotAnElfIsAnError) {
  std::vector<uint8_t> text(100, 'x');
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(text, {});
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("not a 64-bit ELF"));
}

TEST(KnowledgeTest, UnreadableSystemMapIsAnError) {
  std::vector<uint8_t> elf = ReadAll(std::string(TEST_KERNELS_DIR) + "/tlb_sites.elf");
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(elf, {"/nonexistent/System.map", ""});
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("/nonexistent/System.map"));
}

}  // namespace
}  // namespace tlbscope::introspect
