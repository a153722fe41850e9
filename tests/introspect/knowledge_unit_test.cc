// Kernel knowledge on small inputs (no Linux kernel needed): System.map
// parsing, bad BTF blobs, an ELF with neither BTF nor DWARF.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "introspect/btf_layout.h"
#include "introspect/kallsyms.h"
#include "introspect/knowledge.h"

extern "C" {
#include "tests/introspect/fake_kernel_types.h"
}

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

namespace tlbscope::introspect {
namespace {

// The compiler's offsetof is the independent source.
void ExpectFakeLayout(const KernelLayout& l) {
  EXPECT_EQ(l.mm_pgd.offset, offsetof(struct mm_struct, pgd));
  EXPECT_EQ(l.mm_ctx_id.offset, offsetof(struct mm_struct, context.ctx_id));
  EXPECT_EQ(l.mm_tlb_gen.offset, offsetof(struct mm_struct, context.tlb_gen));
  EXPECT_EQ(l.mm_tlb_gen.size, 8u);
  EXPECT_EQ(l.mm_tlb_flush_pending.offset, offsetof(struct mm_struct, tlb_flush_pending));
  EXPECT_EQ(l.mm_cpu_bitmap.offset, offsetof(struct mm_struct, cpu_bitmap));
  EXPECT_TRUE(l.mm_lam_cr3_mask.found);
  EXPECT_EQ(l.mm_lam_cr3_mask.offset, offsetof(struct mm_struct, context.lam_cr3_mask));
  EXPECT_EQ(l.mm_untag_mask.offset, offsetof(struct mm_struct, context.untag_mask));
  EXPECT_EQ(l.ts_loaded_mm_asid.offset, offsetof(struct tlb_state, loaded_mm_asid));
  EXPECT_EQ(l.ts_loaded_mm_asid.size, 2u);
  EXPECT_EQ(l.ts_next_asid.offset, offsetof(struct tlb_state, next_asid));
  EXPECT_EQ(l.ts_ctxs.offset, offsetof(struct tlb_state, ctxs));
  EXPECT_EQ(l.ts_ctxs_count, 6u);
  EXPECT_EQ(l.tlb_context_size, sizeof(struct tlb_context));
  EXPECT_EQ(l.tc_tlb_gen.offset, offsetof(struct tlb_context, tlb_gen));
  EXPECT_EQ(l.fi_new_tlb_gen.offset, offsetof(struct flush_tlb_info, new_tlb_gen));
  EXPECT_EQ(l.fi_stride_shift.offset, offsetof(struct flush_tlb_info, stride_shift));
  EXPECT_EQ(l.fi_freed_tables.offset, offsetof(struct flush_tlb_info, freed_tables));
  EXPECT_EQ(l.mg_end.offset, offsetof(struct mmu_gather, end));
  // Bitfields: the compiler puts them in order from bit 0 of the word after end.
  uint32_t word = offsetof(struct mmu_gather, end) + sizeof(unsigned long);
  EXPECT_EQ(l.mg_fullmm.offset, word);
  EXPECT_EQ(l.mg_fullmm.bit, 0);
  EXPECT_EQ(l.mg_freed_tables.offset, word);
  EXPECT_EQ(l.mg_freed_tables.bit, 2);
  EXPECT_EQ(l.mg_freed_tables.bits, 1);
  EXPECT_EQ(l.system_scheduling_state, std::optional<uint64_t>(SYSTEM_SCHEDULING));
  EXPECT_EQ(l.alt_instr_size, sizeof(struct alt_instr));
  EXPECT_EQ(l.ai_repl_offset.offset, offsetof(struct alt_instr, repl_offset));
  EXPECT_EQ(l.ai_instrlen.offset, offsetof(struct alt_instr, instrlen));
  EXPECT_EQ(l.ai_replacementlen.offset, offsetof(struct alt_instr, replacementlen));
  EXPECT_EQ(l.ai_replacementlen.size, 1u);
  EXPECT_EQ(l.membarrier_sync_core_state,
            std::optional<uint64_t>(MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE));
}

std::vector<uint8_t> Fake(const char* name) {
  return ReadAll(std::string(FAKE_KERNEL_DIR) + "/" + name);
}

TEST(DwarfLayoutTest, MatchesTheCompiler) {
  std::vector<uint8_t> elf = Fake("fake_kernel.elf");
  ASSERT_FALSE(elf.empty());
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(elf, {});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->layout.source, "DWARF");
  ExpectFakeLayout(k->layout);
  // Per-CPU offsets fall back to the symbols (here plain globals).
  EXPECT_EQ(k->symbols.Find("cpu_tlbstate"), k->layout.pcpu_cpu_tlbstate);
  EXPECT_THAT(k->Summary(), HasSubstr("symbol switch_mm_irqs_off"));
}

TEST(BtfLayoutTest, DetachedFileMatchesTheCompiler) {
  std::vector<uint8_t> elf = Fake("fake_kernel.elf");
  absl::StatusOr<KernelKnowledge> k =
      LoadKernelKnowledge(elf, {"", std::string(FAKE_KERNEL_DIR) + "/fake_kernel.btf"});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_THAT(k->layout.source, HasSubstr("fake_kernel.btf"));
  ExpectFakeLayout(k->layout);
}

}  // namespace
}  // namespace tlbscope::introspect
