#include "vmm/kvm/guest_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/kvm/ioctl.h"

namespace tlbscope {

absl::StatusOr<GuestMemory> GuestMemory::Create(uint64_t size) {
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (addr == MAP_FAILED) {
    return ErrnoStatus(absl::StrFormat("mmap of %u MiB guest memory", size >> 20), errno);
  }
  return GuestMemory(UniqueMapping(addr, size));
}

bool GuestMemory::Contains(uint64_t gpa, uint64_t len) const {
  return gpa <= size() && len <= size() - gpa;
}

absl::StatusOr<uint8_t*> GuestMemory::Ptr(uint64_t gpa, uint64_t len) const {
  if (!Contains(gpa, len)) {
    return absl::OutOfRangeError(
        absl::StrFormat("guest physical range [%#x, %#x) is outside guest memory (%#x bytes)", gpa,
                        gpa + len, size()));
  }
  return host_base() + gpa;
}

absl::Status GuestMemory::Write(uint64_t gpa, std::span<const uint8_t> bytes) {
  absl::StatusOr<uint8_t*> p = Ptr(gpa, bytes.size());
  if (!p.ok()) return p.status();
  std::memcpy(*p, bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::Status GuestMemory::Fill(uint64_t gpa, uint64_t len, uint8_t value) {
  absl::StatusOr<uint8_t*> p = Ptr(gpa, len);
  if (!p.ok()) return p.status();
  std::memset(*p, value, len);
  return absl::OkStatus();
}

absl::Status GuestMemory::Read(uint64_t gpa, std::span<uint8_t> out) const {
  absl::StatusOr<uint8_t*> p = Ptr(gpa, out.size());
  if (!p.ok()) return p.status();
  std::memcpy(out.data(), *p, out.size());
  return absl::OkStatus();
}

}  // namespace tlbscope
