// tlbcollect: rebuild per-vCPU TLB generation state from a tlbscope event
// stream (a recorded trace or a live TraceService) and say where coherence
// was lost. See collectors/README.md.
#include <cstdio>
#include <string>
#include <vector>

#include "collectors/tlbcollect_cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return tlbscope::collect::RunTlbcollect(args, stdout, stderr);
}
