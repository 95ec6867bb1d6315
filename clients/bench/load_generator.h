// Drives an RPC with closed-loop or open-loop load and measures it.
//
// Closed loop: `concurrency` calls are always outstanding; each completion
// starts the next call, and latency runs from that start.
// Open loop: calls are started at `rate` per second on a fixed schedule
// (see OpenLoopSchedule) whether or not earlier calls have finished;
// latency runs from each call's scheduled time, so a server (or a client)
// that falls behind shows in the latency instead of silently lowering the
// load. Sends the client started late, and sends it dropped because too
// many calls were outstanding, are counted.
//
// The RPC is an RpcTarget: Start() begins one call and returns at once (the
// gRPC callback API), so a few threads keep many calls outstanding.
//
//   PhaseResult r = RunLoad(target, {.concurrency = 16,
//                                    .duration = absl::Seconds(5)});
//   r.latency.p99, r.ok / absl::ToDoubleSeconds(r.elapsed), ...
#ifndef OPPMATRIX_CLIENTS_BENCH_LOAD_GENERATOR_H_
#define OPPMATRIX_CLIENTS_BENCH_LOAD_GENERATOR_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <map>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clients/bench/latency_recorder.h"

namespace oppmatrix {

// How one call ended.
struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::OK;
  // Work items done by a successful call (opportunities of a batch).
  int64_t items = 1;
};

// One kind of call. Start() may be called from several threads at once,
// including from inside a `done` callback.
//
// Lifetimes: the last `done` of a run may be followed at once by Finish()
// and the target's destruction on another thread, so a target releases
// what a call holds (its ClientContext, which holds the channel) before it
// runs that call's `done`, and touches nothing of its own afterwards.
// RunLoad() returns only once every `done` has run and every Start() has
// returned.
class RpcTarget {
 public:
  using Done = std::function<void(const Outcome&)>;
  virtual ~RpcTarget() = default;

  // Before any load: opens connections, stores what later calls read.
  virtual absl::Status Prepare() { return absl::OkStatus(); }
  // Begins one call; `done` runs exactly once, on any thread, as the last
  // thing the target does for that call.
  virtual void Start(Done done) = 0;
  // After the load, with no call outstanding and no Start() running:
  // closes streams, and returns once they are over.
  virtual void Finish() {}
};

struct LoadShape {
  // Closed loop: calls outstanding. Used when rate is 0.
  int concurrency = 16;
  // Open loop: calls started per second; 0 for a closed loop.
  double rate = 0;
  // The run stops starting calls after this long or after max_requests
  // calls, whichever comes first (infinite / 0: no such limit).
  absl::Duration duration = absl::Seconds(5);
  int64_t max_requests = 0;
  // Open loop: see OpenLoopSchedule::Options.
  int64_t max_outstanding = 10000;
  absl::Duration late_after = absl::Milliseconds(1);
};

struct PhaseResult {
  // Finished calls (ok + errors).
  int64_t requests = 0;
  int64_t ok = 0;
  // Items of the successful calls.
  int64_t items = 0;
  std::map<grpc::StatusCode, int64_t> errors;
  // Of every completed call, failed ones included.
  LatencySummary latency;
  // From the start to the last completion.
  absl::Duration elapsed;
  // Open loop only.
  int64_t late = 0;
  int64_t dropped = 0;

  int64_t error_count() const { return requests - ok; }
  double qps() const;
  double items_per_second() const;
};

// Runs `target` with `shape` and waits for every call it started and
// every Start() it made to return.
PhaseResult RunLoad(RpcTarget& target, const LoadShape& shape);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_LOAD_GENERATOR_H_
