#pragma once

#include <map>
#include <set>
#include <string>

namespace tlbscope::eco {

// What a --perfetto file holds, read back independently of the writer.
struct PerfettoSummary {
  std::string error;                          // empty: the file parsed
  std::set<std::string> thread_tracks;        // names of the vCPU tracks
  std::set<std::string> counter_tracks;       // names of the counter tracks
  std::map<std::string, int> counter_values;  // counter track name -> values written
  int slices = 0;                             // complete slices (begin+end, or "X")
  int unbalanced_slices = 0;                  // begin without end or end without begin
  int violations = 0;
  std::map<std::string, int> flows;  // flow name -> complete flows (start .. end)
  int dangling = 0;                  // flows that start and never end, or end unstarted
};

// Perfetto's native trace (perfetto.protos.Trace), parsed with the kept
// schema's generated classes.
PerfettoSummary ReadProtoTrace(const std::string& path);
// Chrome Trace Event JSON.
PerfettoSummary ReadJsonTrace(const std::string& path);

}  // namespace tlbscope::eco
