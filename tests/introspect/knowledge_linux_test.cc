// Kernel knowledge of real kernels: Debian's cloud 6.1 (bzImage: kallsyms
// and the payload's .BTF) and the 6.12 test kernel of guest-linux/ (vmlinux with
// DWARF, detached BTF, System.map). Every offset is checked against
// pahole's own reading of the same kernel, parsed at test time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <regex>

#include "introspect/btf_layout.h"
#include "introspect/elf_image.h"
#include "introspect/kallsyms.h"
#include "introspect/knowledge.h"
#include "introspect/knowledge_cache.h"
#include "introspect/probes/entry_plan.h"
#include "tests/common/pass_boot_gate.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/linux/linux_probes.h"

namespace tlbscope::introspect {
namespace {

using ::testing::HasSubstr;

const std::string kBzImage = std::string(LINUX_CACHE_DIR) + "/vmlinuz";

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

// The Debian vmlinux, extracted once and written where pahole can read it:
// a file of this process's own (CTest runs these tests as parallel
// processes; one shared name let one truncate it under another's pahole),
// removed when the process exits.
struct Debian {
  std::vector<uint8_t> vmlinux;
  std::string path;
};
const Debian& DebianKernel() {
  static Debian* d = [] {
    auto* out = new Debian;
    std::vector<uint8_t> bz = ReadAll(kBzImage);
    absl::StatusOr<BzImage> image = ParseBzImage(bz, kBzImage);
    if (!image.ok()) return out;
    absl::StatusOr<std::vector<uint8_t>> v = ExtractVmlinux(*image, kBzImage);
    if (!v.ok()) return out;
    out->vmlinux = *std::move(v);
    out->path = ::testing::TempDir() + "/debian-vmlinux-" + std::to_string(::getpid());
    static const std::string* to_remove = &out->path;
    std::atexit([] { ::unlink(to_remove->c_str()); });
    std::ofstream(out->path, std::ios::binary)
        .write(reinterpret_cast<const char*>(out->vmlinux.data()), out->vmlinux.size());
    return out;
  }();
  return *d;
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// pahole -E -C TYPE: member name -> byte offset (absolute within TYPE, as
// pahole prints expanded members), first occurrence.
std::map<std::string, uint32_t> PaholeOffsets(const std::string& args, const std::string& type) {
  std::map<std::string, uint32_t> out;
  std::string text = Shell("pahole " + args + " -E -C " + type + " 2>/dev/null");
  std::regex member(R"(\s([A-Za-z_][A-Za-z_0-9]*)(\[\d+\])?(:\d+)?;\s*/\*\s*(\d+))");
  for (std::sregex_iterator it(text.begin(), text.end(), member), end; it != end; ++it) {
    out.emplace((*it)[1], std::stoul((*it)[4]));
  }
  return out;
}

void ExpectMatchesPahole(const KernelLayout& l, const std::string& pahole_args) {
  auto mm = PaholeOffsets(pahole_args, "mm_struct");
  ASSERT_TRUE(mm.contains("tlb_gen")) << "pahole " << pahole_args << " printed no mm_struct";
  EXPECT_EQ(l.mm_pgd.offset, mm["pgd"]);
  EXPECT_EQ(l.mm_ctx_id.offset, mm["ctx_id"]);
  EXPECT_EQ(l.mm_tlb_gen.offset, mm["tlb_gen"]);
  // Optional: LAM (CONFIG_ADDRESS_MASKING, 6.4+): the 6.12 test kernel has it.
  EXPECT_EQ(l.mm_lam_cr3_mask.found, mm.contains("lam_cr3_mask"));
  if (mm.contains("lam_cr3_mask")) {
    EXPECT_EQ(l.mm_lam_cr3_mask.offset, mm["lam_cr3_mask"]);
    EXPECT_EQ(l.mm_untag_mask.offset, mm["untag_mask"]);
  }
  auto ts = PaholeOffsets(pahole_args, "tlb_state");
  EXPECT_EQ(l.ts_loaded_mm.offset, ts["loaded_mm"]);
  EXPECT_EQ(l.ts_loaded_mm_asid.offset, ts["loaded_mm_asid"]);
  EXPECT_EQ(l.ts_next_asid.offset, ts["next_asid"]);
  EXPECT_EQ(l.ts_ctxs.offset, ts["ctxs"]);
  auto fi = PaholeOffsets(pahole_args, "flush_tlb_info");
  for (auto [name, field] : {std::pair{"mm", l.fi_mm},
                             {"start", l.fi_start},
                             {"end", l.fi_end},
                             {"new_tlb_gen", l.fi_new_tlb_gen},
                             {"stride_shift", l.fi_stride_shift},
                             {"freed_tables", l.fi_freed_tables}}) {
    ASSERT_TRUE(fi.contains(name)) << name;
    EXPECT_EQ(field.offset, fi[name]) << "flush_tlb_info." << name;
  }
  // Optional: which flush-target rule the kernel has (6.1 lacks it, 6.12
  // stable has it); found exactly where pahole shows it.
  EXPECT_EQ(l.fi_trim_cpumask.found, fi.contains("trim_cpumask"));
  if (fi.contains("trim_cpumask")) EXPECT_EQ(l.fi_trim_cpumask.offset, fi["trim_cpumask"]);
  auto mg = PaholeOffsets(pahole_args, "mmu_gather");
  EXPECT_EQ(l.mg_start.offset, mg["start"]);
  EXPECT_EQ(l.mg_end.offset, mg["end"]);
}

TEST(DebianKnowledgeTest, KallsymsAndPayloadBtf) {
  const Debian& d = DebianKernel();
  ASSERT_FALSE(d.vmlinux.empty()) << kBzImage << " missing or not extractable (fixture failed)";
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(d.vmlinux, {});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_TRUE(k->complete()) << k->Summary();
  EXPECT_EQ(k->symbols.source(), "kallsyms");
  EXPECT_GT(k->symbols.size(), 50000u);
  EXPECT_THAT(k->banner, HasSubstr("Linux version 6.1"));
  EXPECT_EQ(k->build_id.size(), 40u);
  ExpectMatchesPahole(k->layout, "-F btf " + d.path);
  EXPECT_EQ(k->layout.ts_ctxs_count, 6u);  // TLB_NR_DYN_ASIDS, as pahole prints ctxs[6]
  EXPECT_THAT(Shell("pahole -F btf -C tlb_state " + d.path), HasSubstr("ctxs[6]"));
  // Per-CPU offsets: BTF's DATASEC and the kallsyms symbol agree.
  EXPECT_EQ(k->symbols.Find("cpu_tlbstate"), k->layout.pcpu_cpu_tlbstate);
  EXPECT_EQ(k->symbols.Find("cpu_tlbstate_shared"), k->layout.pcpu_cpu_tlbstate_shared);
  // The decoded function addresses are real entries: Debian's functions
  // start with `call __fentry__` (e8 rel32) before ftrace patches them.
  absl::StatusOr<ElfImage> image = ElfImage::Open(d.vmlinux);
  ASSERT_TRUE(image.ok());
  std::optional<uint64_t> fentry = k->symbols.Find("__fentry__");
  ASSERT_TRUE(fentry.has_value());
  for (auto fn : {k->addresses.switch_mm_irqs_off, k->addresses.flush_tlb_mm_range,
                  k->addresses.native_flush_tlb_multi, k->addresses.flush_tlb_func}) {
    ASSERT_TRUE(fn.has_value());
    auto bytes = image->At(*fn, 5);
    ASSERT_TRUE(bytes.has_value());
    ASSERT_EQ((*bytes)[0], 0xe8) << k->symbols.NameAt(*fn);
    int32_t rel;
    memcpy(&rel, bytes->data() + 1, 4);
    EXPECT_EQ(*fn + 5 + rel, *fentry) << k->symbols.NameAt(*fn);
  }
}

// Debian's functions start with the ftrace site: every probe's breakpoint
// goes right after it, never on the bytes ftrace rewrites.
// The build-id cache gives Debian's knowledge back as read (timing: bench/
// knowledge_cache_bench, not here).
TEST(DebianKnowledgeTest, BuildIdCacheGivesTheSameKnowledge) {
  const Debian& d = DebianKernel();
  ASSERT_FALSE(d.vmlinux.empty()) << kBzImage << " missing or not extractable (fixture failed)";
  absl::StatusOr<KernelKnowledge> fresh = LoadKernelKnowledge(d.vmlinux, {});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  std::string dir = ::testing::TempDir() + "/debian-kcache-" + std::to_string(::getpid());
  CacheNote miss, hit;
  ASSERT_TRUE(LoadKernelKnowledgeCached(d.vmlinux, {}, dir, &miss).ok());
  absl::StatusOr<KernelKnowledge> cached = LoadKernelKnowledgeCached(d.vmlinux, {}, dir, &hit);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_FALSE(miss.hit);
  EXPECT_TRUE(hit.hit) << hit.line;
  EXPECT_EQ(hit.path, dir + "/" + fresh->build_id);
  EXPECT_EQ(cached->Summary(), fresh->Summary());
  EXPECT_EQ(cached->symbols.Entries(), fresh->symbols.Entries());
  EXPECT_EQ(cached->layout.mm_tlb_gen.offset, fresh->layout.mm_tlb_gen.offset);
  EXPECT_EQ(cached->layout.pcpu_cpu_tlbstate, fresh->layout.pcpu_cpu_tlbstate);
  EXPECT_EQ(cached->addresses.flush_tlb_func, fresh->addresses.flush_tlb_func);
  EXPECT_EQ(cached->symbols.NameAt(*fresh->addresses.flush_tlb_func + 4),
            fresh->symbols.NameAt(*fresh->addresses.flush_tlb_func + 4));
  std::filesystem::remove_all(dir);
}

TEST(DebianKnowledgeTest, ProbeBreakpointsAvoidTheFtraceSite) {
  const Debian& d = DebianKernel();
  ASSERT_FALSE(d.vmlinux.empty());
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(d.vmlinux, {});
  ASSERT_TRUE(k.ok()) << k.status();
  absl::StatusOr<ElfImage> image = ElfImage::Open(d.vmlinux);
  ASSERT_TRUE(image.ok());
  for (const char* fn :
       {"switch_mm_irqs_off", "enter_lazy_tlb", "flush_tlb_mm_range", "native_flush_tlb_multi",
        "flush_tlb_func", "tlb_gather_mmu", "tlb_finish_mmu"}) {
    std::optional<uint64_t> a = k->symbols.Find(fn);
    ASSERT_TRUE(a.has_value()) << fn;
    auto code = image->At(*a, 16);
    ASSERT_TRUE(code.has_value()) << fn;
    EntryPlan p = PlanEntry(*a, *code, k->symbols.Find("__fentry__"));
    EXPECT_TRUE(p.after_ftrace) << fn;
    EXPECT_EQ(p.address, *a + 5) << fn;
    std::cout << fn << ": " << p.Describe() << "\n";
  }
}

// What a run does with Debian's bzImage, no KVM: loaded as a run loads it,
// knowledge from its kallsyms and .BTF alone, an int3 right after each
// function's ftrace site (a `call __fentry__` in the image, which ftrace
// rewrites at boot) and none on it.
TEST(DebianKnowledgeTest, RunPlacesEveryProbePastTheFtraceSite) {
  std::vector<uint8_t> bz = ReadAll(kBzImage);
  ASSERT_FALSE(bz.empty());
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(256 << 20);
  ASSERT_TRUE(mem.ok());
  absl::StatusOr<LoadedKernel> k = LoadKernelBytes(bz, kBzImage, BootProtocol::kAuto, "", *mem);
  ASSERT_TRUE(k.ok()) << k.status();
  std::vector<uint8_t> before(mem->host_base(), mem->host_base() + mem->size());
  ProbePoints points(&*mem);
  std::string why;
  std::unique_ptr<LinuxProbes> probes = CreateLinuxProbes({}, k->vmlinux, &*mem, &points, 2, &why);
  ASSERT_NE(probes, nullptr) << why;
  // No cache_disable/enable and no __tlb_remove_folio_pages in 6.1; four
  // table levels (this config has 5-level paging), on_each_cpu_cond_mask,
  // membarrier (no do_arch_prctl_64: no LAM before 6.4): 18 entries; and the returns of the two
  // exits to user mode
  // (`jmp __x86_return_thunk` here: retbleed mitigations), two each.
  int returns = 0;
  for (const PlannedProbe& p : probes->plan().probes) returns += p.at_return;
  EXPECT_EQ(probes->plan().probes.size() - returns, 18u);
  EXPECT_EQ(returns, 4);
  for (const std::string& problem : probes->plan().problems) ADD_FAILURE() << problem;
  tlbscope::testing::PassBootGate(*probes, *mem, points);
  EXPECT_FALSE(probes->plan().sync_cores.empty());  // finish_task_switch's sync_core
  for (const PlannedProbe& p : probes->plan().probes) {
    SCOPED_TRACE(p.Describe());
    // The exits to user mode are probed at their returns.
    if (p.at_return) {
      EXPECT_TRUE(p.function.ends_with("_to_user_mode"));
      EXPECT_TRUE(before[p.paddr] == 0xc3 || before[p.paddr] == 0xe9);
      EXPECT_EQ(mem->host_base()[p.paddr], 0xcc);
      continue;
    }
    EXPECT_TRUE(p.plan.after_ftrace);
    uint64_t site = p.paddr - 5;  // the 5-byte call before the int3
    EXPECT_EQ(before[site], 0xe8);
    for (uint64_t b = site; b < p.paddr; ++b) EXPECT_EQ(before[b], mem->host_base()[b]);
    EXPECT_EQ(mem->host_base()[p.paddr], 0xcc);
  }
}

// `tlbscope sites` says what it knows about a Linux kernel and plans probes.
TEST(DebianKnowledgeTest, SitesCommandPrintsKnowledgeAndProbePlan) {
  std::string out = Shell(std::string(TLBSCOPE_BIN) + " sites " + kBzImage);
  EXPECT_THAT(out, HasSubstr("kernel knowledge complete (symbols: kallsyms ("));
  EXPECT_THAT(out, HasSubstr("layouts: BTF (.BTF section))"));
  std::regex probe(R"(probe (\w+) +0x[0-9a-f]+ \(after the ftrace site\): (emulate|step))");
  auto n = std::distance(std::sregex_iterator(out.begin(), out.end(), probe), {});
  EXPECT_EQ(n, 7) << out;
}

TEST(DebianKnowledgeTest, MismatchedSystemMapIsOneLineAndKallsymsIsUsed) {
  const Debian& d = DebianKernel();
  ASSERT_FALSE(d.vmlinux.empty());
  std::string map = ::testing::TempDir() + "/wrong.map";
  std::ofstream(map) << "ffffffff81000000 T _text\nffffffff82000010 D linux_banner\n"
                        "ffffffff81100000 T switch_mm_irqs_off\n";
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(d.vmlinux, {map, ""});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_THAT(k->Summary(), HasSubstr("System.map " + map + " is not this kernel's"));
  EXPECT_THAT(k->Summary(), HasSubstr("linux_banner"));
  EXPECT_EQ(k->symbols.source(), "kallsyms");
  EXPECT_NE(k->addresses.switch_mm_irqs_off, 0xffffffff81100000u);
}

// A BTF file libbpf rejects (a type section past the end) and one it
// accepts but that is scrambled: one line each, and the symbols still work.
TEST(DebianKnowledgeTest, CorruptBtfFileLeavesLayoutsMissing) {
  const Debian& d = DebianKernel();
  ASSERT_FALSE(d.vmlinux.empty());
  absl::StatusOr<ElfImage> image = ElfImage::Open(d.vmlinux);
  ASSERT_TRUE(image.ok());
  const ElfSection* btf = image->Section(".BTF");
  ASSERT_NE(btf, nullptr);
  std::span<const uint8_t> good = image->Contents(*btf);
  std::vector<uint8_t> bad_header(good.begin(), good.end());
  uint32_t huge = 0x7fffffff;
  memcpy(&bad_header[16], &huge, 4);  // btf_header.type_len
  std::vector<uint8_t> scrambled(good.begin(), good.end());
  for (size_t i = 64; i < 4096; ++i) scrambled[i] ^= 0xa5;  // libbpf 1.1 accepts this
  for (auto [name, blob, why] :
       {std::tuple{"header", &bad_header, "libbpf rejected it"},
        std::tuple{"types", &scrambled, "has neither mm_struct nor tlb_state"}}) {
    std::string path = ::testing::TempDir() + "/corrupt-" + name + ".btf";
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(blob->data()), blob->size());
    absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(d.vmlinux, {"", path});
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_FALSE(k->complete());
    EXPECT_THAT(k->Summary(), HasSubstr("struct layouts (BTF " + path + ": " + why)) << name;
    EXPECT_THAT(k->Summary(), HasSubstr("no DWARF")) << name;
    EXPECT_EQ(k->Summary().find('\n'), std::string::npos);
    EXPECT_EQ(k->symbols.source(), "kallsyms");  // the rest still works
  }
}

// The 6.12 test kernel (issue 13): System.map, detached BTF and DWARF, from
// guest-linux/build-kernel.sh (the CTest fixture guest_linux_build_kernel
// built it; here the script only answers from its cache).
std::optional<std::map<std::string, std::string>> Kernel612() {
  // The script prints the kernel's folder only when it succeeded.
  std::string dir = Shell(BUILD_KERNEL_SH " 2>/dev/null");
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  if (dir.empty()) return std::nullopt;
  return std::map<std::string, std::string>{{"vmlinux", dir + "/vmlinux"},
                                            {"System.map", dir + "/System.map"}};
}

TEST(Kernel612KnowledgeTest, OffsetsDifferFrom61AndMatchPahole) {
  auto kv = Kernel612();
  ASSERT_TRUE(kv.has_value()) << BUILD_KERNEL_SH " gave no test kernel";
  std::vector<uint8_t> v = ReadAll((*kv)["vmlinux"]);
  ASSERT_FALSE(v.empty()) << (*kv)["vmlinux"];
  KnowledgeSources src;
  if (kv->contains("System.map")) src.system_map = (*kv)["System.map"];
  absl::StatusOr<KernelKnowledge> k = LoadKernelKnowledge(v, src);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_TRUE(k->complete()) << k->Summary();
  ExpectMatchesPahole(k->layout, "-F dwarf " + (*kv)["vmlinux"]);
  EXPECT_TRUE(k->layout.mm_lam_cr3_mask.found);  // CONFIG_ADDRESS_MASKING (seed 002)
  const Debian& d = DebianKernel();
  absl::StatusOr<KernelKnowledge> k61 = LoadKernelKnowledge(d.vmlinux, {});
  ASSERT_TRUE(k61.ok());
  EXPECT_NE(k->layout.mm_tlb_gen.offset, k61->layout.mm_tlb_gen.offset);
  EXPECT_FALSE(k61->layout.mm_lam_cr3_mask.found);  // Debian's 6.1: LAM came in 6.4
}

}  // namespace
}  // namespace tlbscope::introspect
