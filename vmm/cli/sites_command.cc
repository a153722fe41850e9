#include "vmm/cli/sites_command.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

int SitesCommand(const std::vector<std::string>& args) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    std::printf(
        "usage: tlbscope sites KERNEL\n"
        "  lists every MOV-to-CR3, INVLPG and INVPCID in KERNEL's executable sections:\n"
        "  address, instruction, symbol+offset (when the ELF has symbols), class\n");
    return 0;
  }
  if (args.size() != 1) {
    std::fprintf(stderr, "tlbscope sites: error: expected one KERNEL argument (got %zu)\n",
                 args.size());
    return 2;
  }
  absl::StatusOr<SiteScan> scan = ScanTlbSitesInFile(args[0]);
  if (!scan.ok()) {
    std::fprintf(stderr, "tlbscope sites: error: %s\n",
                 std::string(scan.status().message()).c_str());
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
  return 0;
}

}  // namespace tlbscope
