#include "tests/eco/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace tlbscope::eco {

std::string ReadAll(FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

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
