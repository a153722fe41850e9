#include "tests/eco/perfetto_check.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <vector>

#include "perfetto/perfetto_trace.pb.h"
#include "tests/eco/process.h"

namespace tlbscope::eco {

namespace pp = ::perfetto::protos;

PerfettoSummary ReadProtoTrace(const std::string& path) {
  PerfettoSummary s;
  pp::Trace trace;
  if (!trace.ParseFromString(ReadFile(path))) {
    s.error = "not a perfetto.protos.Trace";
    return s;
  }
  std::map<uint64_t, std::string> thread, counter;
  std::map<uint64_t, int> open;  // track -> slices begun, not ended
  struct FlowSeen {
    int starts = 0, ends = 0;
    uint64_t first_ts = ~0ull, end_ts = 0, last_ts = 0;
    std::string name;
  };
  std::map<uint64_t, FlowSeen> flows;
  for (const pp::TracePacket& p : trace.packet()) {
    if (p.has_track_descriptor()) {
      const pp::TrackDescriptor& d = p.track_descriptor();
      if (d.has_thread()) thread[d.uuid()] = d.name();
      if (d.has_counter()) counter[d.uuid()] = d.name();
    }
    if (!p.has_track_event()) continue;
    const pp::TrackEvent& t = p.track_event();
    switch (t.type()) {
      case pp::TrackEvent::TYPE_SLICE_BEGIN:
        ++open[t.track_uuid()];
        break;
      case pp::TrackEvent::TYPE_SLICE_END:
        if (open[t.track_uuid()]-- > 0) {
          ++s.slices;
        } else {
          ++s.unbalanced_slices;
        }
        break;
      case pp::TrackEvent::TYPE_COUNTER:
        if (counter.contains(t.track_uuid())) ++s.counter_values[counter[t.track_uuid()]];
        break;
      case pp::TrackEvent::TYPE_INSTANT:
        if (t.name().rfind("VIOLATION ", 0) == 0) ++s.violations;
        break;
      default:
        break;
    }
    for (uint64_t id : t.flow_ids()) {
      FlowSeen& f = flows[id];
      ++f.starts;
      f.name = t.name();
      f.first_ts = std::min<uint64_t>(f.first_ts, p.timestamp());
      f.last_ts = std::max<uint64_t>(f.last_ts, p.timestamp());
    }
    for (uint64_t id : t.terminating_flow_ids()) {
      FlowSeen& f = flows[id];
      ++f.ends;
      f.end_ts = p.timestamp();
    }
  }
  for (const auto& [uuid, name] : thread) s.thread_tracks.insert(name);
  for (const auto& [uuid, name] : counter) s.counter_tracks.insert(name);
  for (const auto& [track, n] : open) s.unbalanced_slices += n > 0 ? n : 0;
  for (const auto& [id, f] : flows) {
    // Complete: starts (one event, maybe steps) and ends once, at or after them.
    if (f.starts >= 1 && f.ends == 1 && f.end_ts >= f.last_ts) {
      ++s.flows[f.name];
    } else {
      ++s.dangling;
    }
  }
  return s;
}

PerfettoSummary ReadJsonTrace(const std::string& path) {
  PerfettoSummary s;
  google::protobuf::Struct doc;
  if (!google::protobuf::util::JsonStringToMessage(ReadFile(path), &doc).ok()) {
    s.error = "not JSON";
    return s;
  }
  std::map<std::pair<std::string, double>, std::string> phases;  // (cat, id) -> phases seen
  for (const auto& ev : doc.fields().at("traceEvents").list_value().values()) {
    const auto& e = ev.struct_value().fields();
    std::string ph = e.at("ph").string_value();
    std::string name = e.contains("name") ? e.at("name").string_value() : "";
    if (ph == "M" && name == "thread_name") {
      s.thread_tracks.insert(e.at("args").struct_value().fields().at("name").string_value());
    }
    if (ph == "X") ++s.slices;
    if (ph == "C") {
      s.counter_tracks.insert(name);
      ++s.counter_values[name];
    }
    if (ph == "i" && name.rfind("VIOLATION ", 0) == 0) ++s.violations;
    if (ph == "s" || ph == "t" || ph == "f") {
      phases[{e.at("cat").string_value(), e.at("id").number_value()}] += ph;
    }
  }
  for (const auto& [key, ph] : phases) {
    bool complete = ph.size() >= 2 && ph.front() == 's' && ph.back() == 'f' &&
                    ph.find('s', 1) == std::string::npos && ph.find('f') == ph.size() - 1;
    if (complete) {
      ++s.flows[key.first];
    } else {
      ++s.dangling;
    }
  }
  return s;
}

}  // namespace tlbscope::eco
