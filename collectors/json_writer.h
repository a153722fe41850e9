#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tlbscope::collect {

// A small streaming JSON writer into a string (commas and escaping handled).
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view s);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool b);

  static void Escape(std::string_view s, std::string* out);

 private:
  void Comma();
  std::string* out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

}  // namespace tlbscope::collect
