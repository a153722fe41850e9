#include "vmm/kvm/ioctl.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::Status ErrnoStatus(std::string_view what, int err) {
  std::string msg = absl::StrFormat("%s failed: %s (errno %d)", what, std::strerror(err), err);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    case ENOMEM:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

}  // namespace tlbscope
