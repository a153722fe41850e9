#include "vmm/trace/trap_log.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "common/output_file.h"

namespace tlbscope {

std::string FormatTrapEvent(const v1::Event& e) {
  const v1::TrapContext& t = e.trap();
  auto head = [&](const char* kind) {
    return absl::StrFormat("vcpu %d #%d %-7s rip %#x %s [%s%s]", e.vcpu(), e.vcpu_sequence(), kind,
                           t.rip(), t.symbol().empty() ? "?" : t.symbol(), t.strategy(),
                           t.emulated() ? ", emulated" : "");
  };
  switch (e.kind_case()) {
    case v1::Event::kCr3Write: {
      const v1::Cr3Write& c = e.cr3_write();
      std::string entry;
      if (c.entry_checked()) {
        entry = c.entry_mapped()
                    ? absl::StrFormat(" root maps kernel entry -> %#x", c.entry_paddr())
                    : " root does NOT map the kernel entry";
      }
      return absl::StrFormat(
          "%s cr3 %#x -> %#x (root %#x pcid %d noflush %d lam_u57 %d lam_u48 %d)%s",
          head("mov-cr3"), c.old_cr3(), c.new_cr3(), c.root(), c.pcid(), c.noflush(), c.lam_u57(),
          c.lam_u48(), entry);
    }
    case v1::Event::kInvlpg:
      return absl::StrFormat("%s addr %#x", head("invlpg"), e.invlpg().linear_address());
    case v1::Event::kInvpcid: {
      const v1::Invpcid& p = e.invpcid();
      return absl::StrFormat("%s type %d descriptor@%#x {pcid %#x, addr %#x}%s", head("invpcid"),
                             p.type(), p.descriptor_address(), p.pcid(), p.linear_address(),
                             p.faulted() ? " #GP" : "");
    }
    default:
      return "";
  }
}

absl::StatusOr<std::unique_ptr<TrapLogWriter>> TrapLogWriter::Create(const std::string& path) {
  if (absl::Status s = CheckOutputPath("--trap-log", path); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--trap-log %s: %s", path, std::strerror(errno)));
  }
  return std::unique_ptr<TrapLogWriter>(new TrapLogWriter(std::move(out)));
}

void TrapLogWriter::OnEvents(const std::vector<v1::Event>& events) {
  for (const v1::Event& e : events) {
    std::string line = FormatTrapEvent(e);
    if (!line.empty()) out_ << line << '\n';
  }
}

}  // namespace tlbscope
