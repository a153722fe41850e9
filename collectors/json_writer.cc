#include "collectors/json_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tlbscope::collect {

void JsonWriter::Escape(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void JsonWriter::Comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_->push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  Comma();
  out_->push_back('{');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_->push_back('}');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  Comma();
  out_->push_back('[');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_->push_back(']');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view k) {
  Comma();
  Escape(k, out_);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  Comma();
  Escape(s, out_);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Comma();
  absl::StrAppend(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Comma();
  absl::StrAppend(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  Comma();
  absl::StrAppendFormat(out_, "%.3f", v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool b) {
  Comma();
  *out_ += b ? "true" : "false";
  return *this;
}

}  // namespace tlbscope::collect
