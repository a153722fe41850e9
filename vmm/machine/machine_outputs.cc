// The trace outputs a run asked for: started before the guest runs,
// finished after its end.
#include <cstdio>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {

absl::StatusOr<std::unique_ptr<TraceOutputs>> StartOutputs(const MachineConfig& config,
                                                           const v1::TraceHeader& header,
                                                           TracePipeline& trace) {
  auto o = std::make_unique<TraceOutputs>();
  if (!config.record_path.empty()) {
    absl::StatusOr<std::unique_ptr<Recorder>> r = Recorder::Create(config.record_path, header);
    if (!r.ok()) return r.status();
    o->recorder = std::move(*r);
    trace.AddSink(o->recorder.get());
  }
  for (EventSink* sink : config.extra_sinks) {
    sink->OnHeader(header);
    trace.AddSink(sink);
  }
  if (!config.trap_log.empty()) {
    absl::StatusOr<std::unique_ptr<TrapLogWriter>> w = TrapLogWriter::Create(config.trap_log);
    if (!w.ok()) return w.status();
    o->trap_log = std::move(*w);
    trace.AddSink(o->trap_log.get());
  }
  if (config.serve.listen.empty()) return o;
  absl::StatusOr<std::string> token = LoadServeSecrets(config.serve);
  if (!token.ok()) return token.status();
  o->retention = std::make_unique<Retention>(config.retain);
  trace.AddSink(o->retention.get());  // after the recorder: the file has it first
  o->service = std::make_unique<TraceServiceImpl>(
      header, o->retention.get(), &trace,
      TraceServiceOptions{*token, config.record_path, config.smp, 256});
  absl::StatusOr<std::unique_ptr<RpcServer>> s = RpcServer::Start(config.serve, o->service.get());
  if (!s.ok()) return s.status();
  o->server = std::move(*s);
  Log("serving TraceService on %s", o->server->address());
  return o;
}

void FinishOutputs(const MachineConfig& config, TraceOutputs& o, const SerialSink& sink,
                   RunOutcome& out) {
  if (o.service) {
    o.service->SetRunning(false);
    auto linger = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(config.linger_s));
    o.service->WaitForSubscribersDone(std::chrono::steady_clock::now() + linger);
    o.server->Shutdown();
  }
  if (o.recorder && !o.recorder->ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--record %s: write failed; the trace is incomplete", o.recorder->path()));
  }
  if (o.trap_log && !o.trap_log->ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--trap-log %s: write failed; the log is incomplete", config.trap_log));
  }
  if (!sink.log_ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--serial-log %s: write failed; the log is incomplete", config.serial_log));
  }
}

}  // namespace tlbscope
