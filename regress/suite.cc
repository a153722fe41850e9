#include "regress/suite.h"

#include <filesystem>
#include <functional>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/cpu_features.h"
#include "common/file_bytes.h"
#include "common/file_names.h"
#include "common/scenario_names.h"
#include "toml++/toml.h"
#include "vmm/hold/hold_spec.h"

namespace tlbscope::regress {
namespace {

absl::Status Bad(const std::string& path, const toml::source_region& at, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("suite %s:%d: %s", path, static_cast<int>(at.begin.line), what));
}

const std::set<std::string>& RunKeys() {
  static const std::set<std::string> k = {
      "name", "kernel",  "initrd",  "domain", "smp",      "mem",  "scenario",      "variant",
      "seed", "cmdline", "timeout", "expect", "workload", "hold", "linux_variant", "requires"};
  return k;
}

// One key of a suite table: its value node, and what an error names.
struct Field {
  const std::string& path;
  const std::string& key;
  const toml::node& node;

  absl::Status Error(const std::string& what) const { return Bad(path, node.source(), what); }

  absl::Status String(std::string* out) const {
    const auto* v = node.as_string();
    if (!v) return Error(absl::StrFormat("'%s' must be a string", key));
    *out = v->get();
    return absl::OkStatus();
  }

  // A string or a list of them into `*out` (replacing it), each passed by
  // `check`; an error names the item's line: `not_a_string` for an item
  // that is not a string, else what `check` said.
  absl::Status Strings(const std::string& not_a_string,
                       const std::function<absl::Status(const std::string&)>& check,
                       std::vector<std::string>* out) const {
    out->clear();
    std::vector<const toml::node*> items;
    if (const auto* list = node.as_array()) {
      for (const auto& e : *list) items.push_back(&e);
    } else {
      items.push_back(&node);
    }
    for (const toml::node* e : items) {
      const auto* v = e->as_string();
      if (!v) return Bad(path, e->source(), not_a_string);
      if (absl::Status s = check(v->get()); !s.ok()) {
        return Bad(path, e->source(), std::string(s.message()));
      }
      out->push_back(v->get());
    }
    return absl::OkStatus();
  }

  absl::Status Int(int64_t lo, int64_t hi, int64_t* out) const {
    const auto* v = node.as_integer();
    if (!v || v->get() < lo || v->get() > hi) {
      return Error(absl::StrFormat("'%s' must be an integer from %d to %d", key, lo, hi));
    }
    *out = v->get();
    return absl::OkStatus();
  }
};

// The keys whose value is a string kept as it is.
std::string* StringKey(const std::string& key, RunSpec* r) {
  static const std::map<std::string, std::string RunSpec::*> k = {
      {"name", &RunSpec::name},         {"kernel", &RunSpec::kernel},
      {"initrd", &RunSpec::initrd},     {"domain", &RunSpec::domain},
      {"scenario", &RunSpec::scenario}, {"cmdline", &RunSpec::cmdline},
      {"workload", &RunSpec::workload}, {"linux_variant", &RunSpec::linux_variant}};
  auto it = k.find(key);
  return it == k.end() ? nullptr : &(r->*(it->second));
}

absl::Status ApplyVariant(const Field& f, RunSpec* r) {
  if (absl::Status s = f.String(&r->variant); !s.ok()) return s;
  if (r->variant != "correct" && r->variant != "bug") {
    return f.Error("'variant' must be \"correct\" or \"bug\"");
  }
  return absl::OkStatus();
}

absl::Status ApplyTimeout(const Field& f, RunSpec* r) {
  const auto* i = f.node.as_integer();
  const auto* d = f.node.as_floating_point();
  double v = i ? static_cast<double>(i->get()) : d ? d->get() : -1;
  if (!(v > 0 && v <= 365.0 * 24 * 3600)) {
    return f.Error("'timeout' must be a positive number of seconds, at most a year");
  }
  r->timeout_s = v;
  return absl::OkStatus();
}

// smp = N, or a list: one run per value.
absl::Status ApplySmp(const Field& f, std::vector<int>* smps) {
  smps->clear();
  const auto* list = f.node.as_array();
  if (!list) {
    int64_t n = 0;
    if (absl::Status s = f.Int(1, 64, &n); !s.ok()) return s;
    smps->push_back(static_cast<int>(n));
    return absl::OkStatus();
  }
  for (const auto& e : *list) {
    const auto* v = e.as_integer();
    if (!v || v->get() < 1 || v->get() > 64) {
      return Bad(f.path, e.source(), "'smp' values must be integers from 1 to 64");
    }
    smps->push_back(static_cast<int>(v->get()));
  }
  if (smps->empty()) return f.Error("'smp' list is empty");
  return absl::OkStatus();
}

// expect = "clean", or a non-empty list of invariant names.
absl::Status ApplyExpect(const Field& f, RunSpec* r) {
  r->expect_violations.clear();
  if (const auto* v = f.node.as_string(); v && v->get() == "clean") {
    r->expect_clean = true;
    return absl::OkStatus();
  }
  const auto* list = f.node.as_array();
  if (!list || list->empty()) {
    return f.Error("'expect' must be \"clean\" or a non-empty list of invariant names");
  }
  r->expect_clean = false;
  for (const auto& e : *list) {
    const auto* name = e.as_string();
    if (!name || name->get().empty()) {
      return Bad(f.path, e.source(), "'expect' lists invariant names (strings)");
    }
    r->expect_violations.insert(name->get());
  }
  return absl::OkStatus();
}

// hold = "SPEC" or a list of them: `run --hold`, checked here for its
// syntax (and against each run's vCPUs once smp is known).
absl::Status ApplyHold(const Field& f, RunSpec* r) {
  return f.Strings(
      "'hold' must be a --hold spec or a list of them",
      [](const std::string& v) { return hold::ParseSpec(v).status(); }, &r->holds);
}

// requires = "FEATURE" or a list of them: `run --require`, names checked.
absl::Status ApplyRequires(const Field& f, RunSpec* r) {
  return f.Strings(
      "'requires' must be a CPU feature or a list of them",
      [](const std::string& v) {
        absl::Status s = CheckCpuFeatureNames({v});
        return s.ok() ? s : absl::InvalidArgumentError("requires " + std::string(s.message()));
      },
      &r->required_features);
}

// One known key's value into `r` (`smps`: smp, which may be a list).
absl::Status ApplyKey(const Field& f, RunSpec* r, std::vector<int>* smps) {
  int64_t n = 0;
  absl::Status s;
  if (std::string* out = StringKey(f.key, r)) return f.String(out);
  if (f.key == "variant") return ApplyVariant(f, r);
  if (f.key == "timeout") return ApplyTimeout(f, r);
  if (f.key == "smp") return ApplySmp(f, smps);
  if (f.key == "expect") return ApplyExpect(f, r);
  if (f.key == "hold") return ApplyHold(f, r);
  if (f.key == "requires") return ApplyRequires(f, r);
  if (f.key == "mem") {
    s = f.Int(2, 3072, &n);
    r->mem_mib = static_cast<uint64_t>(n);
  } else if (f.key == "seed") {
    s = f.Int(0, INT64_MAX, &n);
    r->seed = static_cast<uint64_t>(n);
  }
  return s;
}

// Applies one table's keys to `r` (the defaults, then a run's own).
// `smps` collects smp when it is a list.
absl::Status Apply(const std::string& path, const toml::table& t, RunSpec* r,
                   std::vector<int>* smps, bool is_defaults) {
  for (const auto& [key, node] : t) {
    std::string k(key.str());
    if (!RunKeys().contains(k) || (is_defaults && (k == "name" || k == "expect"))) {
      return Bad(
          path, node.source(),
          absl::StrFormat("unknown key '%s'%s (known: %s)", k, is_defaults ? " in [defaults]" : "",
                          absl::StrJoin(RunKeys(), ", ")));
    }
    if (absl::Status s = ApplyKey(Field{path, k, node}, r, smps); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The run's guest-probe scenario, checked against the list `tlbscope run`
// knows (common/scenario_names.h), so a typo fails the suite at load
// rather than booting a guest that runs nothing.
absl::Status CheckRunScenario(const std::string& path, const toml::node& run, const RunSpec& r) {
  if (r.scenario.empty()) return absl::OkStatus();
  if (absl::Status s = CheckScenarioName(r.scenario); !s.ok()) {
    return Bad(path, run.source(), absl::StrFormat("run '%s': scenario %s", r.name, s.message()));
  }
  if (absl::Status s = CheckBugVariant(r.scenario); r.variant == "bug" && !s.ok()) {
    return Bad(path, run.source(),
               absl::StrFormat("run '%s': variant \"bug\": %s", r.name, s.message()));
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
    if (absl::Status s = CheckRunScenario(path, n, r); !s.ok()) return s;
    for (int smp : smps) {
      RunSpec one = r;
      one.smp = smp;
      if (smps.size() > 1) one.name = absl::StrFormat("%s-smp%d", r.name, smp);
      if (absl::Status s = CheckFileName(one.name, "run name"); !s.ok()) {
        return Bad(path, n.source(), std::string(s.message()));
      }
      for (const std::string& h : one.holds) {
        if (absl::StatusOr<hold::Spec> spec = hold::ParseSpec(h, smp); !spec.ok()) {
          return Bad(path, n.source(),
                     absl::StrFormat("run '%s': %s", one.name, spec.status().message()));
        }
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
