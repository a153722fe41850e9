#include "tests/eco/process.h"

#include <sys/wait.h>
#include <unistd.h>

namespace tlbscope::eco {

Output Run(const std::string& command) {
  char err_path[] = "/tmp/eco_errXXXXXX";
  int fd = mkstemp(err_path);
  if (fd >= 0) close(fd);
  Output o;
  FILE* p = popen((command + " 2>" + err_path).c_str(), "r");
  if (p == nullptr) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  o.err = ReadFile(err_path);
  unlink(err_path);
  return o;
}

}  // namespace tlbscope::eco
