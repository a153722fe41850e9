#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/unique_mapping.h"

namespace tlbscope {

// Guest-physical RAM starting at GPA 0, one anonymous shared mapping.
// Every accessor is bounds-checked and names the offending address.
class GuestMemory {
 public:
  static absl::StatusOr<GuestMemory> Create(uint64_t size);

  uint64_t size() const { return mapping_.size(); }
  uint8_t* host_base() const { return static_cast<uint8_t*>(mapping_.get()); }

  // Host pointer to [gpa, gpa + len), or OutOfRange naming the range.
  absl::StatusOr<uint8_t*> Ptr(uint64_t gpa, uint64_t len) const;
  bool Contains(uint64_t gpa, uint64_t len) const;

  absl::Status Write(uint64_t gpa, std::span<const uint8_t> bytes);
  absl::Status Fill(uint64_t gpa, uint64_t len, uint8_t value);
  absl::Status Read(uint64_t gpa, std::span<uint8_t> out) const;

  template <typename T>
  absl::Status WriteObject(uint64_t gpa, const T& obj) {
    return Write(gpa, {reinterpret_cast<const uint8_t*>(&obj), sizeof(T)});
  }
  template <typename T>
  absl::StatusOr<T> ReadObject(uint64_t gpa) const {
    T obj;
    absl::Status s = Read(gpa, {reinterpret_cast<uint8_t*>(&obj), sizeof(T)});
    if (!s.ok()) return s;
    return obj;
  }

 private:
  explicit GuestMemory(UniqueMapping m) : mapping_(std::move(m)) {}
  UniqueMapping mapping_;
};

}  // namespace tlbscope
