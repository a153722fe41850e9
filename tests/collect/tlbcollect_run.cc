#include "tests/collect/tlbcollect_run.h"

#include <cstdio>

#include "collectors/tlbcollect_cli.h"
#include "tests/common/text_file.h"

namespace tlbscope::collect::testing {

CliRun Tlbcollect(const std::vector<std::string>& args) {
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  int status = RunTlbcollect(args, out, err);
  return {status, tlbscope::testing::ReadAll(out), tlbscope::testing::ReadAll(err)};
}

}  // namespace tlbscope::collect::testing
