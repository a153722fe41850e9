#pragma once

// Paired ioctl helpers, after the KVM selftests' __vm_ioctl / vm_ioctl:
// TryIoctl returns the raw result and errno; CheckIoctl turns a failure into
// a Status that names the ioctl and the errno. Use the KVM_IOCTL macro so the
// request's own name ends up in the message.

#include <sys/ioctl.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tlbscope {

struct IoctlResult {
  int ret;
  int err;  // errno when ret < 0, else 0
};

template <typename Arg>
IoctlResult TryIoctl(int fd, unsigned long request, Arg arg) {
  int ret;
  do {
    ret = ::ioctl(fd, request, arg);
  } while (ret < 0 && errno == EINTR);
  return {ret, ret < 0 ? errno : 0};
}

// "KVM_CREATE_VM failed: Permission denied (errno 13)".
absl::Status ErrnoStatus(std::string_view what, int err);

template <typename Arg>
absl::StatusOr<int> CheckIoctl(int fd, unsigned long request, std::string_view name, Arg arg) {
  IoctlResult r = TryIoctl(fd, request, arg);
  if (r.ret < 0) return ErrnoStatus(name, r.err);
  return r.ret;
}

#define KVM_IOCTL(fd, request, arg) ::tlbscope::CheckIoctl((fd), (request), #request, (arg))

}  // namespace tlbscope
