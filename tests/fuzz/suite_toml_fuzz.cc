// The regress suite reader (TOML, regress/suite.h) on arbitrary text.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "regress/suite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tlbscope::regress::Suite> s = tlbscope::regress::ParseSuite(text, "fuzz.toml");
  if (!s.ok() && s.status().message().empty()) std::abort();
  return 0;
}
