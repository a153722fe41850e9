#pragma once

// JSON for the collectors' outputs (--json, --perfetto FILE.json): nlohmann
// ordered_json, so members are written in the order they are set.

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "nlohmann/json.hpp"

namespace tlbscope::collect {

using Json = nlohmann::ordered_json;

// Compact text of `j`. Strings that are not UTF-8 (a file name, a guest's
// command line) do not throw: their bad bytes become U+FFFD.
inline std::string DumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// `v` rounded to 3 decimals (microseconds with ns resolution, means).
inline double Milli(double v) { return std::round(v * 1000.0) / 1000.0; }

// An object built member by member, in order, with one allocation for its
// members: for the per-event objects of a trace (a braced Json makes a
// temporary array and key string per member, ~4x the time).
class JsonObject {
 public:
  explicit JsonObject(size_t members) : j_(Json::value_t::object) {
    j_.get_ref<Json::object_t&>().reserve(members);
  }
  // `key` must not be set already (it is not looked up).
  template <typename T>
  JsonObject& Add(const char* key, T&& value) {
    j_.get_ref<Json::object_t&>().emplace_back(key, std::forward<T>(value));
    return *this;
  }
  Json& json() { return j_; }

 private:
  Json j_;
};

inline void AddMembers(JsonObject&) {}
template <typename V, typename... Rest>
void AddMembers(JsonObject& o, const char* key, V&& value, Rest&&... rest) {
  o.Add(key, std::forward<V>(value));
  AddMembers(o, std::forward<Rest>(rest)...);
}

// The object of `key, value, key, value, ...`, in that order (JsonObject).
template <typename... KeyValues>
Json JsonMembers(KeyValues&&... kv) {
  static_assert(sizeof...(KeyValues) % 2 == 0, "key, value pairs");
  JsonObject o(sizeof...(KeyValues) / 2);
  AddMembers(o, std::forward<KeyValues>(kv)...);
  return std::move(o.json());
}

}  // namespace tlbscope::collect
