#include "common/file_names.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace tlbscope {

absl::Status CheckFileName(std::string_view name, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s': %s", what,
                        absl::CHexEscape(std::string(name.substr(0, kMaxFileNameLength))), why));
  };
  if (name.empty()) return bad("is empty");
  if (name == "." || name == "..") return bad("is not a usable file name");
  if (name.size() > kMaxFileNameLength) {
    return bad(absl::StrFormat("is longer than %d bytes", kMaxFileNameLength));
  }
  for (char c : name) {
    if (c == '/') return bad("contains '/' (it names one file, not a path)");
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("contains a control character");
  }
  return absl::OkStatus();
}

bool IsStrictlyInside(const std::string& dir, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path d = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) return false;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) return false;
  fs::path rel = p.lexically_relative(d);
  if (rel.empty() || rel == ".") return false;
  return *rel.begin() != "..";
}

}  // namespace tlbscope
