#include "regress/suite.h"

#include <filesystem>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_bytes.h"
#include "common/file_names.h"
#include "toml++/toml.h"

namespace tlbscope::regress {
namespace {

absl::Status Bad(const std::string& path, const toml::source_region& at, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("suite %s:%d: %s", path, static_cast<int>(at.begin.line), what));
}

const std::set<std::string>& RunKeys() {
  static const std::set<std::string> k = {"name",    "kernel",   "initrd",  "domain", "smp",
                                          "mem",     "scenario", "variant", "seed",   "cmdline",
                                          "timeout", "expect",   "workload"};
  return k;
}

// Applies one table's keys to `r` (the defaults, then a run's own).
// `smps` collects smp when it is a list.
absl::Status Apply(const std::string& path, const toml::table& t, RunSpec* r,
                   std::vector<int>* smps, bool is_defaults) {
  for (const auto& entry : t) {  // no structured binding: clang 14 lambdas cannot capture one
    const auto& key = entry.first;
    const auto& node = entry.second;
    std::string k(key.str());
    if (!RunKeys().contains(k) || (is_defaults && (k == "name" || k == "expect"))) {
      return Bad(
          path, node.source(),
          absl::StrFormat("unknown key '%s'%s (known: %s)", k, is_defaults ? " in [defaults]" : "",
                          absl::StrJoin(RunKeys(), ", ")));
    }
    auto want_string = [&](std::string* out) -> absl::Status {
      const auto* v = node.as_string();
      if (!v) return Bad(path, node.source(), absl::StrFormat("'%s' must be a string", k));
      *out = v->get();
      return absl::OkStatus();
    };
    auto want_int = [&](int64_t lo, int64_t hi, int64_t* out) -> absl::Status {
      const auto* v = node.as_integer();
      if (!v || v->get() < lo || v->get() > hi) {
        return Bad(path, node.source(),
                   absl::StrFormat("'%s' must be an integer from %d to %d", k, lo, hi));
      }
      *out = v->get();
      return absl::OkStatus();
    };
    absl::Status s;
    int64_t n = 0;
    if (k == "name") {
      s = want_string(&r->name);
    } else if (k == "kernel") {
      s = want_string(&r->kernel);
    } else if (k == "initrd") {
      s = want_string(&r->initrd);
    } else if (k == "domain") {
      s = want_string(&r->domain);
    } else if (k == "scenario") {
      s = want_string(&r->scenario);
    } else if (k == "cmdline") {
      s = want_string(&r->cmdline);
    } else if (k == "workload") {
      s = want_string(&r->workload);
    } else if (k == "variant") {
      s = want_string(&r->variant);
      if (s.ok() && r->variant != "correct" && r->variant != "bug") {
        s = Bad(path, node.source(), "'variant' must be \"correct\" or \"bug\"");
      }
    } else if (k == "mem") {
      s = want_int(2, 3072, &n);
      r->mem_mib = static_cast<uint64_t>(n);
    } else if (k == "seed") {
      s = want_int(0, INT64_MAX, &n);
      r->seed = static_cast<uint64_t>(n);
    } else if (k == "timeout") {
      const auto* i = node.as_integer();
      const auto* f = node.as_floating_point();
      double v = i ? static_cast<double>(i->get()) : f ? f->get() : -1;
      if (!(v > 0 && v <= 365.0 * 24 * 3600)) {
        return Bad(path, node.source(),
                   "'timeout' must be a positive number of seconds, at most a year");
      }
      r->timeout_s = v;
    } else if (k == "smp") {
      smps->clear();
      if (const auto* list = node.as_array()) {
        for (const auto& e : *list) {
          const auto* v = e.as_integer();
          if (!v || v->get() < 1 || v->get() > 64) {
            return Bad(path, e.source(), "'smp' values must be integers from 1 to 64");
          }
          smps->push_back(static_cast<int>(v->get()));
        }
        if (smps->empty()) return Bad(path, node.source(), "'smp' list is empty");
      } else {
        s = want_int(1, 64, &n);
        smps->push_back(static_cast<int>(n));
      }
    } else if (k == "expect") {
      r->expect_violations.clear();
      if (const auto* v = node.as_string(); v && v->get() == "clean") {
        r->expect_clean = true;
      } else if (const auto* list = node.as_array(); list && !list->empty()) {
        r->expect_clean = false;
        for (const auto& e : *list) {
          const auto* name = e.as_string();
          if (!name || name->get().empty()) {
            return Bad(path, e.source(), "'expect' lists invariant names (strings)");
          }
          r->expect_violations.insert(name->get());
        }
      } else {
        return Bad(path, node.source(),
                   "'expect' must be \"clean\" or a non-empty list of invariant names");
      }
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Suite> ParseSuite(const std::string& text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("suite %s:%d:%d: %s", path, static_cast<int>(e.source().begin.line),
                        static_cast<int>(e.source().begin.column), std::string(e.description())));
  }
  Suite suite;
  suite.path = path;
  suite.name = std::filesystem::path(path).stem().string();
  RunSpec defaults;
  std::vector<int> default_smps = {defaults.smp};
  for (const auto& [key, node] : root) {
    std::string k(key.str());
    if (k == "suite") {
      const toml::table* t = node.as_table();
      const toml::node* name = t ? t->get("name") : nullptr;
      if (!name || !name->as_string() || t->size() != 1) {
        return Bad(path, node.source(), "[suite] holds one key, name = \"...\"");
      }
      suite.name = name->as_string()->get();
    } else if (k == "defaults") {
      const toml::table* t = node.as_table();
      if (!t) return Bad(path, node.source(), "'defaults' must be a table");
      if (absl::Status s = Apply(path, *t, &defaults, &default_smps, true); !s.ok()) return s;
    } else if (k != "run") {
      return Bad(path, node.source(),
                 absl::StrFormat("unknown top-level key '%s' (known: suite, defaults, run)", k));
    }
  }
  const toml::array* runs = root["run"].as_array();
  if (!runs || runs->empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("suite %s: no [[run]] entries", path));
  }
  std::set<std::string> names;
  for (const toml::node& n : *runs) {
    const toml::table* t = n.as_table();
    if (!t) return Bad(path, n.source(), "each 'run' must be a table ([[run]])");
    RunSpec r = defaults;
    std::vector<int> smps = default_smps;
    if (absl::Status s = Apply(path, *t, &r, &smps, false); !s.ok()) return s;
    if (r.name.empty()) return Bad(path, n.source(), "a [[run]] needs a name");
    if (!t->contains("expect")) {
      return Bad(path, n.source(), absl::StrFormat("run '%s' needs an expect", r.name));
    }
    for (int smp : smps) {
      RunSpec one = r;
      one.smp = smp;
      if (smps.size() > 1) one.name = absl::StrFormat("%s-smp%d", r.name, smp);
      if (absl::Status s = CheckFileName(one.name, "run name"); !s.ok()) {
        return Bad(path, n.source(), std::string(s.message()));
      }
      if (!names.insert(one.name).second) {
        return Bad(path, n.source(), absl::StrFormat("run name '%s' is used twice", one.name));
      }
      suite.runs.push_back(one);
    }
  }
  return suite;
}

absl::StatusOr<Suite> LoadSuite(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(path, "suite");
  if (!bytes.ok()) return bytes.status();
  return ParseSuite(std::string(bytes->begin(), bytes->end()), path);
}

}  // namespace tlbscope::regress
