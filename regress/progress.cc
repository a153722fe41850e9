#include "regress/progress.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tlbscope {

std::string RegressProgress::Format() const {
  size_t done = passed_ + failed_ + errors_ + skipped_;
  std::string skips = skipped_ == 0 ? "" : absl::StrFormat(", %d skipped", skipped_);
  return absl::StrFormat(
      "tlbscope regress: %d/%d done (%d pass, %d FAIL, %d ERROR%s), %d running: %s; %d left", done,
      total_, passed_, failed_, errors_, skips, running_.size(), absl::StrJoin(running_, " "),
      total_ - done - running_.size());
}

void RegressProgress::DrawLocked() { line_->Draw(Format()); }

void RegressProgress::Started(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  running_.insert(name);
  DrawLocked();
}

void RegressProgress::Finished(const std::string& name, Outcome outcome, const std::string& text) {
  std::lock_guard<std::mutex> l(mu_);
  running_.erase(name);
  size_t* counts[] = {&passed_, &failed_, &errors_, &skipped_};
  *counts[outcome] += 1;
  line_->Above(stderr, text);
  DrawLocked();
}

}  // namespace tlbscope
