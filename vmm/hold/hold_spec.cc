#include "vmm/hold/hold_spec.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tlbscope::hold {
namespace {

absl::Status Bad(absl::string_view text, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrFormat("--hold %s: %s", text, what));
}

bool IsSymbolChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.'; }

// SYMBOL[+OFFSET][%return] | 0xADDRESS
absl::Status ParseWhere(absl::string_view s, Site& site) {
  if (absl::ConsumeSuffix(&s, "%return")) site.at_return = true;
  if (absl::StartsWith(s, "0x") || absl::StartsWith(s, "0X")) {
    if (!absl::SimpleHexAtoi(s.substr(2), &site.address)) {
      return absl::InvalidArgumentError(absl::StrFormat("'%s' is not a hex address", s));
    }
    return absl::OkStatus();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(s, absl::MaxSplits('+', 1));
  absl::string_view name = parts[0];
  if (name.empty() || name.size() > 128 || absl::ascii_isdigit(name[0]) ||
      !std::all_of(name.begin(), name.end(), IsSymbolChar)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' is not a symbol (letters, digits, '_', '.')", name));
  }
  site.symbol = std::string(name);
  if (parts.size() == 2) {
    absl::string_view off = parts[1];
    bool ok = absl::ConsumePrefix(&off, "0x") ? absl::SimpleHexAtoi(off, &site.offset)
                                              : absl::SimpleAtoi(off, &site.offset);
    if (!ok || site.offset > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrFormat("offset '%s' is not a number up to 0xffff", parts[1]));
    }
  }
  return absl::OkStatus();
}

// VCPU:SITE
absl::StatusOr<Site> ParseSite(absl::string_view s, uint32_t vcpus) {
  Site site;
  site.text = std::string(s);
  std::vector<absl::string_view> parts = absl::StrSplit(s, absl::MaxSplits(':', 1));
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(absl::StrFormat("'%s' is not VCPU:SITE", s));
  }
  if (!absl::SimpleAtoi(parts[0], &site.vcpu) || site.vcpu >= 64) {
    return absl::InvalidArgumentError(absl::StrFormat("vCPU '%s' is not 0 to 63", parts[0]));
  }
  if (vcpus != 0 && site.vcpu >= vcpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vCPU %u does not exist (the guest has %u)", site.vcpu, vcpus));
  }
  if (absl::Status st = ParseWhere(parts[1], site); !st.ok()) return st;
  return site;
}

absl::Status ParseOption(absl::string_view key, absl::string_view value, uint32_t vcpus,
                         Spec& spec) {
  if (key == "release") {
    absl::StatusOr<Site> s = ParseSite(value, vcpus);
    if (!s.ok()) return absl::InvalidArgumentError("release=" + std::string(s.status().message()));
    spec.release = *std::move(s);
    return absl::OkStatus();
  }
  if (key == "timeout") {
    if (!absl::ParseDuration(value, &spec.timeout) || spec.timeout <= absl::ZeroDuration() ||
        spec.timeout > kMaxHoldTimeout) {
      return absl::InvalidArgumentError(
          absl::StrFormat("timeout=%s: expected a duration above 0 and up to 600s (e.g. 2s, "
                          "500ms)",
                          value));
    }
    return absl::OkStatus();
  }
  if (key == "count") {
    if (!absl::SimpleAtoi(value, &spec.count) || spec.count < 1 || spec.count > kMaxHoldCount) {
      return absl::InvalidArgumentError(
          absl::StrFormat("count=%s: expected 1 to %u", value, kMaxHoldCount));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown key '%s' (release, timeout, count)", key));
}

}  // namespace

absl::StatusOr<Spec> ParseSpec(absl::string_view text, uint32_t vcpus) {
  if (text.size() > 1024) return Bad(text.substr(0, 64), "longer than 1024 characters");
  for (char c : text) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return Bad(absl::CHexEscape(text), "only printable characters without spaces");
    }
  }
  Spec spec;
  spec.text = std::string(text);
  std::vector<absl::string_view> items = absl::StrSplit(text, ',');
  absl::StatusOr<Site> hold = ParseSite(items[0], vcpus);
  if (!hold.ok()) return Bad(text, std::string(hold.status().message()));
  spec.hold = *std::move(hold);
  bool released = false;
  for (size_t i = 1; i < items.size(); ++i) {
    std::vector<absl::string_view> kv = absl::StrSplit(items[i], absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[1].empty()) {
      return Bad(text, absl::StrFormat("'%s' is not KEY=VALUE", items[i]));
    }
    if (absl::Status s = ParseOption(kv[0], kv[1], vcpus, spec); !s.ok()) {
      return Bad(text, std::string(s.message()));
    }
    released = released || kv[0] == "release";
  }
  if (!released) return Bad(text, "release=VCPU:SITE is missing: what ends the hold?");
  if (spec.release.vcpu == spec.hold.vcpu) {
    return Bad(text,
               absl::StrFormat("vCPU %u cannot release itself while it is held", spec.hold.vcpu));
  }
  return spec;
}

}  // namespace tlbscope::hold
