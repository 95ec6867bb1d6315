// oppmatrix-classifier: the classification gRPC server.
#include <signal.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/classifier/classifier_server.h"
#include "services/classifier/rescorer.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/classifier/sweeper.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/env_flags.h"
#include "services/common/log.h"
#include "services/common/server_flags.h"
#include "services/engine/ruleset.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_ruleset_store.h"
#include "services/store/redis_url.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC listen address, host:port");
ABSL_FLAG(std::string, rules, "rules/default.yaml",
          "The ruleset YAML file; reloaded when it changes and on SIGHUP");
ABSL_FLAG(absl::Duration, rules_poll_interval, absl::Seconds(2),
          "How often to check the ruleset file for changes; 0 disables");
ABSL_FLAG(absl::Duration, tenant_rules_poll_interval, absl::Seconds(1),
          "How often to read tenants' published rulesets from --redis "
          "(RulesetService); a publication through this replica is in force "
          "here at once, through another within this");
ABSL_FLAG(double, rescore_rate, 10000,
          "Stored results rescored per second at most after a tenant's "
          "publication or rollback, so that live traffic keeps its latency; "
          "0 no limit");
ABSL_FLAG(absl::Duration, rescore_lease, absl::Seconds(10),
          "How long a replica holds a rescore without a step: a replica "
          "that died mid-way holds it this long before another goes on");
ABSL_FLAG(absl::Duration, sweep_interval, absl::Hours(1),
          "How often to classify aged stored results again (see "
          "--sweep_age), so that decaying and time-dependent signals move "
          "deals without CRM events; 0 disables");
ABSL_FLAG(absl::Duration, sweep_age, absl::Hours(24),
          "A stored result classified longer ago than this is classified "
          "again by the next sweep; positive");
ABSL_FLAG(absl::Duration, pin_check_interval, absl::Minutes(1),
          "How often to end the pins (PinOpportunity) that have expired: "
          "their results go back to the cell the rules give; 0 leaves them "
          "to the results' next writes");
ABSL_FLAG(double, sweep_rate, 1000,
          "Aged results classified again per second at most; 0 no limit");
ABSL_FLAG(std::string, check_rules, "",
          "Validate this ruleset file, print its version or its errors, and "
          "exit 0 (valid) or 1 (invalid)");
ABSL_FLAG(int, max_batch_size, 1000,
          "Largest BatchClassify request, in opportunities");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(std::string, redis, "redis://127.0.0.1:6379/0",
          "Result store: redis://[[user]:password@]host[:port][/db] or "
          "unix:///path[?db=N&password=P]; empty runs without storage");
ABSL_FLAG(int, redis_loops, 1,
          "Event-loop threads (each with one Redis connection) of the "
          "asynchronous client every RPC uses");
ABSL_FLAG(int, redis_puts_in_flight, 2,
          "Store calls in flight at most; the ones that come meanwhile go "
          "together (one script call per tenant) when one is answered; 0 "
          "sends each at once");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Milliseconds(500),
          "Upper bound of one Redis round trip (and of connecting)");
ABSL_FLAG(absl::Duration, result_ttl, absl::Hours(24 * 90),
          "How long a stored result lives after its last write (99-100 %: "
          "the expiry moves once 1 % has passed); 0 keeps results until "
          "deleted");
ABSL_FLAG(int64_t, transitions_max_len, 10000,
          "Approximate length each tenant's transitions stream is trimmed to");
ABSL_FLAG(int, history_length, 10,
          "States kept per stored result for GetHistory and the trend, 0 to "
          "100: a write whose cell, scores, grade or ruleset version differ "
          "from the newest adds one (about 70 bytes in Redis); 0 keeps "
          "none");
ABSL_FLAG(absl::Duration, cache_max_age, absl::Hours(1),
          "A stored result of unchanged content, ruleset, cell and priority "
          "younger than this is current and not written again (cached); 0 "
          "writes every result");

namespace oppmatrix {
namespace {

int CheckRules(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(path);
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
    return 1;
  }
  std::printf("%s: OK, version %s\n", path.c_str(), (*rules)->version.c_str());
  return 0;
}

int Run() {
  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "--log_level: unknown level \"%s\"\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  SetMinLogLevel(level);
  if (!absl::GetFlag(FLAGS_check_rules).empty()) {
    return CheckRules(absl::GetFlag(FLAGS_check_rules));
  }
  if (absl::GetFlag(FLAGS_max_batch_size) < 1) {
    std::fprintf(stderr, "--max_batch_size must be at least 1\n");
    return 2;
  }
  // A current result is not written again, so its expiry does not move
  // either: it must stay current for well under the TTL.
  if (absl::GetFlag(FLAGS_result_ttl) > absl::ZeroDuration() &&
      absl::GetFlag(FLAGS_cache_max_age) * 2 >
          absl::GetFlag(FLAGS_result_ttl)) {
    std::fprintf(stderr,
                 "--cache_max_age must be at most half of --result_ttl\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_history_length) < 0 ||
      absl::GetFlag(FLAGS_history_length) > kMaxHistoryLength) {
    std::fprintf(stderr, "--history_length must be 0 to %d\n",
                 kMaxHistoryLength);
    return 2;
  }
  if (absl::GetFlag(FLAGS_transitions_max_len) < 1 ||
      absl::GetFlag(FLAGS_redis_puts_in_flight) < 0 ||
      absl::GetFlag(FLAGS_redis_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_result_ttl) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_cache_max_age) < absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "--transitions_max_len must be at least 1, --redis_timeout "
                 "positive, --redis_puts_in_flight, --result_ttl and "
                 "--cache_max_age not negative\n");
    return 2;
  }
  if (!(absl::GetFlag(FLAGS_rescore_rate) >= 0) ||
      absl::GetFlag(FLAGS_rescore_lease) <
          3 * absl::GetFlag(FLAGS_redis_timeout)) {
    std::fprintf(stderr,
                 "--rescore_rate must not be negative, --rescore_lease at "
                 "least three --redis_timeout\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_sweep_interval) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_pin_check_interval) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_sweep_age) <= absl::ZeroDuration() ||
      !(absl::GetFlag(FLAGS_sweep_rate) >= 0)) {
    std::fprintf(stderr,
                 "--sweep_interval, --pin_check_interval and --sweep_rate "
                 "must not be negative, "
                 "--sweep_age must be positive\n");
    return 2;
  }
  std::unique_ptr<AsyncRedis> async_redis;
  std::unique_ptr<RedisResultStore> store;
  std::unique_ptr<RedisRulesetStore> ruleset_store;
  if (!absl::GetFlag(FLAGS_redis).empty()) {
    absl::StatusOr<RedisEndpoint> endpoint =
        ParseRedisUrl(absl::GetFlag(FLAGS_redis));
    if (!endpoint.ok()) {
      std::fprintf(stderr, "--redis: %s\n",
                   std::string(endpoint.status().message()).c_str());
      return 2;
    }
    // Every store call goes through one asynchronous connection per loop
    // (--redis_loops), shared by every call, so no gRPC thread waits on
    // Redis.
    AsyncRedis::Options async_options;
    async_options.endpoint = *endpoint;
    async_options.loops = absl::GetFlag(FLAGS_redis_loops);
    async_options.connect_timeout = absl::GetFlag(FLAGS_redis_timeout);
    async_options.command_timeout = absl::GetFlag(FLAGS_redis_timeout);
    absl::StatusOr<std::unique_ptr<AsyncRedis>> created =
        AsyncRedis::Create(async_options);
    if (!created.ok()) {
      std::fprintf(stderr, "--redis_loops: %s\n",
                   std::string(created.status().message()).c_str());
      return 2;
    }
    async_redis = *std::move(created);
    store = std::make_unique<RedisResultStore>(
        async_redis.get(),
        RedisResultStore::Options{
            .result_ttl = absl::GetFlag(FLAGS_result_ttl),
            .transitions_max_len = absl::GetFlag(FLAGS_transitions_max_len),
            .max_puts_in_flight = absl::GetFlag(FLAGS_redis_puts_in_flight),
            .history_length = absl::GetFlag(FLAGS_history_length)});
    ruleset_store = std::make_unique<RedisRulesetStore>(
        async_redis.get(), RedisRulesetStore::Options{});
    // Redis being down is not fatal: classification goes on unstored and
    // the client reconnects when Redis is back.
    absl::StatusOr<std::vector<RedisReply>> ping = async_redis->PipelineSync(
        {{"PING"}}, absl::Now() + absl::GetFlag(FLAGS_redis_timeout));
    Log(ping.ok() ? LogLevel::kInfo : LogLevel::kWarning, "classifier",
        ping.ok()
            ? absl::StrCat("result store: redis ", endpoint->ToSafeString())
            : absl::StrCat("result store: redis ", endpoint->ToSafeString(),
                           " not reachable yet (", ping.status().message(),
                           "); classifying without storage until it is"));
  } else {
    Log(LogLevel::kWarning, "classifier",
        "no --redis: results are not stored and reads are unavailable");
  }

  // Signals go to one thread that waits for them; block them everywhere
  // else before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<RulesetWatcher>> watcher =
      RulesetWatcher::Create(
          {.path = absl::GetFlag(FLAGS_rules),
           .poll_interval = absl::GetFlag(FLAGS_rules_poll_interval)});
  if (!watcher.ok()) {
    Log(LogLevel::kError, "classifier",
        absl::StrCat("cannot start: ", watcher.status().message()));
    return 1;
  }
  (*watcher)->Start();
  // Tenants' own rulesets: read once now (Redis may be down: the poll
  // goes on), then polled.
  std::unique_ptr<TenantRulesets> tenant_rulesets;
  if (ruleset_store != nullptr) {
    tenant_rulesets = std::make_unique<TenantRulesets>(
        watcher->get(), ruleset_store.get(),
        TenantRulesets::Options{
            .poll_interval = absl::GetFlag(FLAGS_tenant_rules_poll_interval),
            .store_timeout = absl::GetFlag(FLAGS_redis_timeout)});
    if (absl::Status s = tenant_rulesets->Refresh(); !s.ok()) {
      Log(LogLevel::kWarning, "rules", std::string(s.message()));
    }
    tenant_rulesets->Start();
  }
  // Rescores after publications: this replica's at once, any other's
  // (or one a replica left unfinished) at the next poll.
  std::unique_ptr<Rescorer> rescorer;
  if (tenant_rulesets != nullptr && store != nullptr) {
    const absl::Duration poll = absl::GetFlag(FLAGS_tenant_rules_poll_interval);
    rescorer = std::make_unique<Rescorer>(
        tenant_rulesets.get(), ruleset_store.get(), store.get(),
        Rescorer::Options{.rate = absl::GetFlag(FLAGS_rescore_rate),
                          .lease = absl::GetFlag(FLAGS_rescore_lease),
                          .poll_interval = poll > absl::ZeroDuration()
                                               ? poll
                                               : absl::Seconds(1),
                          .settle = 2 * poll,
                          .store_timeout = absl::GetFlag(FLAGS_redis_timeout)});
    rescorer->Start();
  }
  // Aged results are classified again, for decay.
  std::unique_ptr<Sweeper> sweeper;
  if (tenant_rulesets != nullptr && store != nullptr) {
    sweeper = std::make_unique<Sweeper>(
        tenant_rulesets.get(), store.get(),
        Sweeper::Options{
            .interval = absl::GetFlag(FLAGS_sweep_interval),
            .max_age = absl::GetFlag(FLAGS_sweep_age),
            .pin_interval = absl::GetFlag(FLAGS_pin_check_interval),
            .rate = absl::GetFlag(FLAGS_sweep_rate),
            .store_timeout = absl::GetFlag(FLAGS_redis_timeout)});
    sweeper->Start();
  }

  ClassifierServer::Options options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.service.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.service.cache_max_age = absl::GetFlag(FLAGS_cache_max_age);
  options.service.store_timeout = absl::GetFlag(FLAGS_redis_timeout);
  options.ruleset_service.store_timeout = absl::GetFlag(FLAGS_redis_timeout);
  if (rescorer != nullptr) {
    options.ruleset_service.on_change = [r = rescorer.get()] { r->Wake(); };
  }
  if (absl::Status s = ApplyServerLimitFlags(&options.limits); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  GrpcServer::Options security;
  if (absl::Status s = ApplyServerSecurityFlags(&security); !s.ok()) {
    Log(LogLevel::kError, "classifier",
        absl::StrCat("cannot start: ", s.message()));
    return 1;
  }
  options.tls_cert_file = security.tls_cert_file;
  options.tls_key_file = security.tls_key_file;
  options.tls_client_ca_file = security.tls_client_ca_file;
  options.auth_token = security.auth_token;
  absl::StatusOr<std::unique_ptr<ClassifierServer>> server =
      ClassifierServer::Start(options, watcher->get(), store.get(),
                              tenant_rulesets.get(), ruleset_store.get());
  if (!server.ok()) {
    Log(LogLevel::kError, "classifier",
        absl::StrCat("cannot start: ", server.status().message()));
    return 1;
  }
  Log(LogLevel::kInfo, "classifier",
      absl::StrCat("serving on ", options.listen, " (port ", (*server)->port(),
                   ")", options.tls_cert_file.empty() ? "" : " with TLS",
                   options.auth_token.empty() ? "" : " and a bearer token",
                   ", ruleset ", (*watcher)->Current()->version));

  int stop_signal = 0;
  while (stop_signal == 0) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Log(LogLevel::kInfo, "classifier", "SIGHUP: reloading the ruleset");
      (*watcher)->Reload().IgnoreError();
    } else {
      stop_signal = sig;
    }
  }
  absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  Log(LogLevel::kInfo, "classifier",
      absl::StrCat(stop_signal == SIGTERM ? "SIGTERM" : "SIGINT",
                   ": draining for up to ", absl::FormatDuration(grace)));
  // A rescore in progress stops at its step and gives up its lease, so
  // another replica goes on from there.
  if (rescorer != nullptr) rescorer->Stop();
  if (sweeper != nullptr) sweeper->Stop();
  (*server)->Shutdown(grace);
  // Store calls a finished stream left in flight are answered (failed)
  // now, while the server's core and the store they call back into exist.
  if (tenant_rulesets != nullptr) tenant_rulesets->Stop();
  async_redis.reset();
  (*watcher)->Stop();
  Log(LogLevel::kInfo, "classifier", "stopped");
  return 0;
}

}  // namespace
}  // namespace oppmatrix

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock (gRPC's
  // too) would record its lock order for deadlock detection, under a
  // global lock: 2-3 % of a busy server's time. The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  oppmatrix::ParseFlagsWithEnv(
      argc, argv,
      "oppmatrix-classifier: classifies sales opportunities over gRPC.\n"
      "Every flag can also be set as OPPMATRIX_<FLAG>, e.g. "
      "OPPMATRIX_LISTEN=0.0.0.0:50051.");
  return oppmatrix::Run();
}
