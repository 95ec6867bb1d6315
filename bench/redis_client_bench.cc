// The Redis client against one real redis-server (no persistence) on a
// loopback port: small pipelines (SET then GET of one key) from many
// callers at once.
//
//   BM_AsyncThreads/threads:N  AsyncRedis (one loop, one connection), N
//                              threads each waiting (PipelineSync), their
//                              commands sharing writes (how the ingestion
//                              consumer and the tools use it)
//   BM_AsyncInFlight/N         AsyncRedis from one thread that keeps N
//                              pipelines in flight and never waits: how a
//                              server's reactors would use it
//
// Items per second is pipelines per second; "writes" is the writes per
// pipeline the async client made (a flush carries every pipeline queued
// during one loop turn). Client and Redis share the machine's cores.
//
//   build/bench/oppmatrix-redis-bench --benchmark_min_time=1
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

[[noreturn]] void Die(const absl::Status& s) {
  std::fprintf(stderr, "redis bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

struct Fixture {
  testing::RedisServer redis;
  std::unique_ptr<AsyncRedis> async;

  Fixture() {
    if (absl::Status s = redis.Start(); !s.ok()) Die(s);
    absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(redis.url());
    if (!endpoint.ok()) Die(endpoint.status());
    AsyncRedis::Options options;
    options.endpoint = *endpoint;
    auto created = AsyncRedis::Create(options);
    if (!created.ok()) Die(created.status());
    async = *std::move(created);
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

std::vector<RedisCommand> Commands(int caller) {
  const std::string key = absl::StrCat("bench:", caller);
  return {{"SET", key, "a value of some twenty bytes"}, {"GET", key}};
}

absl::Time Deadline() { return absl::Now() + absl::Seconds(5); }

void BM_AsyncThreads(benchmark::State& state) {
  Fixture& f = F();
  const AsyncRedis::Stats before = f.async->stats();
  for (auto _ : state) {
    auto r = f.async->PipelineSync(Commands(state.thread_index()), Deadline());
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const AsyncRedis::Stats after = f.async->stats();
    const double pipelines =
        static_cast<double>(after.pipelines - before.pipelines);
    state.counters["writes"] =
        pipelines > 0 ? (after.flushes - before.flushes) / pipelines : 0;
  }
}
BENCHMARK(BM_AsyncThreads)->Threads(1)->Threads(16)->UseRealTime();

void BM_AsyncInFlight(benchmark::State& state) {
  Fixture& f = F();
  const int window = static_cast<int>(state.range(0));
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  std::atomic<int64_t> errors{0};
  const AsyncRedis::Stats before = f.async->stats();
  int caller = 0;
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    f.async->Pipeline(Commands(caller++ % 64), Deadline(),
                      [&](absl::StatusOr<std::vector<RedisReply>> r) {
                        if (!r.ok()) ++errors;
                        std::lock_guard<std::mutex> lock(mu);
                        --in_flight;
                        cv.notify_one();
                      });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  if (errors > 0) state.SkipWithError("pipelines failed");
  state.SetItemsProcessed(state.iterations());
  const AsyncRedis::Stats after = f.async->stats();
  const double pipelines =
      static_cast<double>(after.pipelines - before.pipelines);
  state.counters["writes"] =
      pipelines > 0 ? (after.flushes - before.flushes) / pipelines : 0;
}
BENCHMARK(BM_AsyncInFlight)->Arg(16)->Arg(128)->UseRealTime();

}  // namespace
}  // namespace oppmatrix

BENCHMARK_MAIN();
