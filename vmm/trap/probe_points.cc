#include "vmm/trap/probe_points.h"

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::Status ProbePoints::Place(uint64_t gva, uint64_t gpa) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = points_.find(gva); it != points_.end()) {
    ++it->second.refs;
    return absl::OkStatus();
  }
  absl::StatusOr<uint8_t> byte = mem_->ReadObject<uint8_t>(gpa);
  if (!byte.ok()) {
    return absl::OutOfRangeError(
        absl::StrFormat("probe at %#x: physical %#x is outside guest memory", gva, gpa));
  }
  if (*byte == kInt3) {
    return absl::FailedPreconditionError(
        absl::StrFormat("probe at %#x: an int3 is already there", gva));
  }
  if (absl::Status s = mem_->WriteObject(gpa, kInt3); !s.ok()) return s;
  points_.emplace(gva, Point{gpa, *byte, 1, false});
  ever_.insert(gva);
  ++placed_total_;
  return absl::OkStatus();
}

void ProbePoints::Remove(uint64_t gva) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(gva);
  if (it == points_.end() || --it->second.refs > 0) return;
  (void)mem_->WriteObject(it->second.gpa, it->second.original);
  points_.erase(it);
}

bool ProbePoints::Contains(uint64_t gva) const {
  std::lock_guard<std::mutex> lock(mu_);
  return points_.contains(gva);
}

absl::Status ProbePoints::Lift(uint64_t gva) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(gva);
  if (it == points_.end()) return absl::OkStatus();
  it->second.lifted = true;
  return mem_->WriteObject(it->second.gpa, it->second.original);
}

absl::Status ProbePoints::Rearm(uint64_t gva) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(gva);
  if (it == points_.end() || !it->second.lifted) return absl::OkStatus();
  it->second.lifted = false;
  return mem_->WriteObject(it->second.gpa, kInt3);
}

absl::StatusOr<bool> ProbePoints::Retake(uint64_t gva) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(gva);
  if (it == points_.end() || it->second.lifted) return false;
  absl::StatusOr<uint8_t> byte = mem_->ReadObject<uint8_t>(it->second.gpa);
  if (!byte.ok()) return byte.status();
  if (*byte == kInt3) return false;
  it->second.original = *byte;
  if (absl::Status s = mem_->WriteObject(it->second.gpa, kInt3); !s.ok()) return s;
  return true;
}

bool ProbePoints::Overwritten(uint64_t gva) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = points_.find(gva);
  if (it == points_.end() || it->second.lifted) return false;
  absl::StatusOr<uint8_t> byte = mem_->ReadObject<uint8_t>(it->second.gpa);
  return byte.ok() && *byte != kInt3;
}

bool ProbePoints::WasOursAndIsGone(uint64_t gva) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ever_.contains(gva)) return false;
  auto it = points_.find(gva);
  return it == points_.end() || it->second.lifted;
}

size_t ProbePoints::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return points_.size();
}

uint64_t ProbePoints::placed_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return placed_total_;
}

}  // namespace tlbscope
