#include "vmm/cli/sites_command.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "common/cli.h"
#include "common/file_bytes.h"
#include "common/log.h"
#include "introspect/elf_image.h"
#include "introspect/knowledge.h"
#include "introspect/knowledge_cache.h"
#include "introspect/probes/entry_plan.h"
#include "vmm/boot/bzimage.h"
#include "vmm/linux/alt_sites.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

namespace {

// Where the kernel's alternatives put the TLB instructions of
// .altinstr_replacement, one line each, when they are applied at boot.
void PrintAlternativeSites(const std::vector<uint8_t>& vmlinux, const introspect::KernelLayout& l,
                           const SiteScan& scan) {
  std::vector<TlbSite> replacements;
  for (const TlbSite& s : scan.sites) {
    if (s.section == ".altinstr_replacement") replacements.push_back(s);
  }
  if (replacements.empty()) return;
  absl::StatusOr<AltSitePlan> plan = PlanAlternativeSites(vmlinux, l, replacements);
  if (!plan.ok()) {
    std::printf("alternatives: the %zu sites of .altinstr_replacement not mapped: %s\n",
                replacements.size(), std::string(plan.status().message()).c_str());
    return;
  }
  for (const TlbSite& s : plan->sites) {
    std::printf("alternative %#018llx  %-8s %-36s %s\n", static_cast<unsigned long long>(s.address),
                TlbInsnName(s.kind), s.text.c_str(), s.section.c_str());
  }
  for (const std::string& p : plan->problems)
    std::printf("alternative not mapped: %s\n", p.c_str());
  std::printf(
      "alternatives: the %zu sites of .altinstr_replacement run at %zu places once the kernel "
      "applies them (traced from the end of its boot-time patching)\n",
      replacements.size(), plan->sites.size());
}

// For a Linux kernel: what introspect knows about it (one line), where
// each probe's breakpoint would go, and where its alternatives put TLB
// instructions.
void PrintKernelKnowledge(const std::string& path, const SiteScan& scan) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(path, "kernel");
  if (!bytes.ok()) return;
  std::vector<uint8_t> vmlinux;
  if (HasBzImageMagic(*bytes)) {
    absl::StatusOr<BzImage> img = ParseBzImage(*bytes, path);
    if (!img.ok()) return;
    absl::StatusOr<std::vector<uint8_t>> v = ExtractVmlinux(*img, path);
    if (!v.ok()) return;
    vmlinux = *std::move(v);
  } else {
    vmlinux = *std::move(bytes);
  }
  introspect::CacheNote note;
  absl::StatusOr<introspect::KernelKnowledge> k = introspect::LoadKernelKnowledgeCached(
      vmlinux, {}, introspect::DefaultKernelCacheDir(), &note);
  if (!note.line.empty()) Log("kernel knowledge cache: %s", note.line);
  if (!k.ok() || (k->banner.empty() && k->layout.source.empty())) return;  // not Linux
  std::printf("%s\n", k->Summary().c_str());
  absl::StatusOr<introspect::ElfImage> image = introspect::ElfImage::Open(vmlinux);
  if (!image.ok()) return;
  for (const char* fn :
       {"switch_mm_irqs_off", "enter_lazy_tlb", "flush_tlb_mm_range", "native_flush_tlb_multi",
        "flush_tlb_func", "tlb_gather_mmu", "tlb_finish_mmu"}) {
    std::optional<uint64_t> a = k->symbols.Find(fn);
    if (!a) continue;
    auto code = image->At(*a, 16);
    if (!code) continue;
    introspect::EntryPlan p = introspect::PlanEntry(*a, *code, k->symbols.Find("__fentry__"));
    std::printf("probe %-24s %s\n", fn, p.Describe().c_str());
  }
  PrintAlternativeSites(vmlinux, k->layout, scan);
}

}  // namespace

int SitesCommand(const std::vector<std::string>& args) {
  std::vector<std::string> kernels;
  CLI::App app(
      "lists every MOV-to-CR3, INVLPG and INVPCID in KERNEL's executable sections: "
      "address, instruction, symbol+offset (when the ELF has symbols), class; for a "
      "Linux kernel, what tlbscope knows of it and where each probe's breakpoint goes",
      "tlbscope sites");
  cli::Configure(app);
  app.add_flag("-h,--help")->description("this text");
  app.add_option("KERNEL", kernels, "an ELF kernel or a Linux bzImage");
  if (std::optional<int> done = cli::ParseCommandArgs(app, args, "sites")) return *done;
  if (kernels.size() != 1) {
    LogError("sites", absl::StrFormat("expected one KERNEL argument (got %zu)", kernels.size()));
    return 2;
  }
  const std::string& kernel = kernels[0];
  absl::StatusOr<SiteScan> scan = ScanTlbSitesInFile(kernel);
  if (!scan.ok()) {
    LogError("sites", scan.status().message());
    return 2;
  }
  std::map<TlbInsn, int> counts;
  for (const TlbSite& s : scan->sites) {
    std::string where =
        s.symbol.empty() ? "?" : absl::StrFormat("%s+%#x", s.symbol, s.symbol_offset);
    std::printf("%#018llx  %-8s %-36s %-40s %s\n", static_cast<unsigned long long>(s.address),
                TlbInsnName(s.kind), s.text.c_str(), where.c_str(), SiteClassName(s.klass));
    ++counts[s.kind];
  }
  std::printf(
      "%zu sites: %d mov-cr3, %d invlpg, %d invpcid (%d executable sections, %llu bytes "
      "scanned)\n",
      scan->sites.size(), counts[TlbInsn::kMovCr3], counts[TlbInsn::kInvlpg],
      counts[TlbInsn::kInvpcid], scan->sections_scanned,
      static_cast<unsigned long long>(scan->bytes_scanned));
  PrintKernelKnowledge(kernel, *scan);
  return 0;
}

}  // namespace tlbscope
