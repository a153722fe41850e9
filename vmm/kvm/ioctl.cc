#include "vmm/kvm/ioctl.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::Status ErrnoStatus(std::string_view what, int err) {
  std::string msg = absl::StrFormat("%s failed: %s (errno %d)", what, std::strerror(err), err);
  // Never InvalidArgument: that code is kept for the user's bad input.
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace tlbscope
