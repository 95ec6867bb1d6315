// oppmatrix-ingestion: CRM events from the bus into classifications.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/env_flags.h"
#include "services/common/file_util.h"
#include "services/common/grpc_channel.h"
#include "services/common/grpc_server.h"
#include "services/common/log.h"
#include "services/common/server_flags.h"
#include "services/ingestion/dead_letters.h"
#include "services/ingestion/grpc_classifier.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/ingestor.h"
#include "services/ingestion/kafka_bus.h"
#include "services/ingestion/kafka_dead_letters.h"
#include "services/ingestion/kafka_flags.h"
#include "services/ingestion/push.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/async_redis.h"
#include "services/store/redis_url.h"
#include "services/store/snapshot_store.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50052",
          "gRPC listen address (PushEvents, GetStatus), host:port");
ABSL_FLAG(std::string, bus, "redis",
          "The event bus: redis (the stream --stream in --redis) or kafka "
          "(the topic --kafka_topic on --kafka_brokers)");
ABSL_FLAG(std::string, redis, "redis://127.0.0.1:6379/0",
          "Redis holding the snapshots (the results are the classifier's) "
          "and, with --bus=redis, the event stream and its dead letters");
ABSL_FLAG(std::string, classifier, "127.0.0.1:50051",
          "The classifier's gRPC target");
ABSL_FLAG(std::string, stream, "oppmatrix:crm-events",
          "The event stream (--bus=redis)");
ABSL_FLAG(std::string, group, "oppmatrix-ingestion",
          "The consumer group replicas share (a Redis stream's or Kafka's)");
ABSL_FLAG(std::string, consumer, "",
          "This replica's name in the group (on Kafka its client.id); "
          "default: the host name (a Kubernetes pod name), stable across "
          "restarts");
ABSL_FLAG(std::string, dead_letter_stream, "oppmatrix:crm-events:dead",
          "Where events that can't be processed go, with their reason "
          "(--bus=redis; on Kafka --kafka_dead_letter_topic)");
ABSL_FLAG(std::string, kafka_dead_letter_topic, "oppmatrix.crm-events.dead",
          "The Kafka topic events that can't be processed go to, with their "
          "reason and source in headers");
ABSL_FLAG(std::string, kafka_replay_group, "oppmatrix-dead-letter-replays",
          "The Kafka consumer group whose committed offsets on the "
          "dead-letter topic mark what ReplayDeadLetters with all has "
          "replayed (entries before them are no longer listed)");
ABSL_FLAG(int, kafka_max_buffered, 2000,
          "Events read ahead from Kafka and not yet in a batch, past which "
          "the partitions are paused (while the pipelines retry)");
ABSL_FLAG(bool, ingest, true,
          "Run the pipeline; false serves PushEvents and GetStatus only");
ABSL_FLAG(int, batch_size, 200,
          "Events per batch (1-1000): the bound on events in flight");
ABSL_FLAG(int, batches_in_flight, 4,
          "Batches worked on at once (1-8), each by a pipeline of its own: "
          "reading the next overlaps classifying the one before");
ABSL_FLAG(absl::Duration, linger, absl::Milliseconds(50),
          "How long one read waits when the bus holds nothing (it returns "
          "at the first event); a read takes what the bus holds, up to "
          "--batch_size, without waiting");
ABSL_FLAG(int, max_deliveries, 5,
          "Dead-letter an event delivered more often than this");
ABSL_FLAG(absl::Duration, claim_idle, absl::Seconds(30),
          "Take over events another replica left unacknowledged this long "
          "(--bus=redis; Kafka hands a dead replica's partitions on)");
ABSL_FLAG(absl::Duration, consumer_idle_limit, absl::Hours(1),
          "Remove the group's other consumers idle this long with nothing "
          "pending (replicas gone after a rollout); 0 never removes them");
ABSL_FLAG(bool, classifier_tls, false,
          "Connect to the classifier over TLS (implied by the other "
          "--classifier_tls_* flags)");
ABSL_FLAG(std::string, classifier_tls_ca_file, "",
          "Roots (PEM) the classifier's certificate must chain to; empty: the "
          "system's");
ABSL_FLAG(std::string, classifier_tls_cert_file, "",
          "This service's client certificate chain (PEM), for a classifier "
          "that requires mutual TLS; with --classifier_tls_key_file");
ABSL_FLAG(std::string, classifier_tls_key_file, "",
          "The private key (PEM) of --classifier_tls_cert_file");
ABSL_FLAG(std::string, classifier_tls_server_name, "",
          "The name the classifier's certificate must carry, when not the "
          "target's host");
ABSL_FLAG(std::string, classifier_token_file, "",
          "A file holding the bearer token sent on every classifier call");
ABSL_FLAG(absl::Duration, classifier_timeout, absl::Seconds(5),
          "Deadline of each classifier call, retries included");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Seconds(1),
          "Bound of one Redis round trip");
ABSL_FLAG(int64_t, stream_max_len, 0,
          "A hard cap: trim the event stream to about this many entries on "
          "push, even entries not yet processed (they are then lost); 0 "
          "never caps. --stream_trim_interval is the safe way to bound it");
ABSL_FLAG(absl::Duration, stream_trim_interval, absl::Seconds(10),
          "How often the event stream is trimmed of the entries every "
          "consumer group has acknowledged (XTRIM MINID); 0 never trims");
ABSL_FLAG(absl::Duration, tombstone_ttl, absl::Hours(24 * 30),
          "How long a deleted opportunity's version is remembered");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");

namespace oppmatrix {
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return "ingestion";
  }
  return name;
}

int Run(int argc, char** argv) {
  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "--log_level: unknown level \"%s\"\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  SetMinLogLevel(level);
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  const int in_flight = absl::GetFlag(FLAGS_batches_in_flight);
  if (batch_size < 1 || batch_size > 1000 || in_flight < 1 || in_flight > 8 ||
      absl::GetFlag(FLAGS_max_deliveries) < 1 ||
      absl::GetFlag(FLAGS_linger) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_redis_timeout) <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "--batch_size must be 1-1000, --batches_in_flight 1-8, "
                 "--max_deliveries at least 1, "
                 "--linger not negative, --redis_timeout positive\n");
    return 2;
  }
  absl::StatusOr<RedisEndpoint> endpoint =
      ParseRedisUrl(absl::GetFlag(FLAGS_redis));
  if (!endpoint.ok()) {
    std::fprintf(stderr, "--redis: %s\n",
                 std::string(endpoint.status().message()).c_str());
    return 2;
  }
  std::string consumer = absl::GetFlag(FLAGS_consumer);
  if (consumer.empty()) consumer = HostName();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const absl::Duration redis_timeout = absl::GetFlag(FLAGS_redis_timeout);
  // Redis is reached only through asynchronous clients, each with its own
  // event-loop thread and connection, so no thread waits on a pool:
  // - `rpc_redis`: PushEvents' appends and the dead-letter RPCs, answered
  //   from its loop, never waiting;
  // - `consumer_redis`: the consumer's acknowledgements, dead letters and
  //   snapshots (its pipelines wait on it from their own threads), and
  //   GetStatus's counts (answered from its loop);
  // - `bus_reads`: the consumer's blocking reads (XREADGROUP BLOCK, up to
  //   --linger), alone on their connection so nothing queues behind them.
  auto make_redis = [&](absl::Duration command_timeout)
      -> absl::StatusOr<std::unique_ptr<AsyncRedis>> {
    return AsyncRedis::Create({.endpoint = *endpoint,
                               .connect_timeout = redis_timeout,
                               .command_timeout = command_timeout});
  };
  absl::StatusOr<std::unique_ptr<AsyncRedis>> rpc_redis =
      make_redis(redis_timeout);
  absl::StatusOr<std::unique_ptr<AsyncRedis>> consumer_redis =
      make_redis(redis_timeout);
  absl::StatusOr<std::unique_ptr<AsyncRedis>> bus_reads =
      make_redis(2 * (redis_timeout + absl::GetFlag(FLAGS_linger)));
  for (const auto* made : {&rpc_redis, &consumer_redis, &bus_reads}) {
    if (!made->ok()) {
      std::fprintf(stderr, "--redis: %s\n",
                   std::string(made->status().message()).c_str());
      return 2;
    }
  }
  const std::string bus = absl::GetFlag(FLAGS_bus);
  if (bus != "redis" && bus != "kafka") {
    std::fprintf(stderr, "--bus: redis or kafka, not \"%s\"\n", bus.c_str());
    return 2;
  }
  // The bus: the source the pipelines read, the sink PushEvents writes.
  std::unique_ptr<RedisStreamSource> redis_source;
  std::unique_ptr<RedisStreamSink> redis_sink;
  std::unique_ptr<KafkaEventSource> kafka_source;
  std::unique_ptr<KafkaProducer> kafka_producer;
  std::unique_ptr<KafkaEventSink> kafka_sink;
  EventSource* source = nullptr;
  EventSink* sink = nullptr;
  std::string bus_name;  // the stream or topic, for GetStatus and the log
  if (bus == "redis") {
    redis_source = std::make_unique<RedisStreamSource>(
        consumer_redis->get(), bus_reads->get(),
        RedisStreamSource::Options{
            .stream = absl::GetFlag(FLAGS_stream),
            .group = absl::GetFlag(FLAGS_group),
            .consumer = consumer,
            .dead_letter_stream = absl::GetFlag(FLAGS_dead_letter_stream),
            .claim_idle = absl::GetFlag(FLAGS_claim_idle),
            .trim_interval = absl::GetFlag(FLAGS_stream_trim_interval),
            .timeout = redis_timeout,
            .consumer_idle_limit = absl::GetFlag(FLAGS_consumer_idle_limit)});
    redis_sink = std::make_unique<RedisStreamSink>(
        rpc_redis->get(),
        RedisStreamSink::Options{.stream = absl::GetFlag(FLAGS_stream),
                                 .max_len = absl::GetFlag(FLAGS_stream_max_len),
                                 .timeout = redis_timeout});
    source = redis_source.get();
    sink = redis_sink.get();
    bus_name = absl::GetFlag(FLAGS_stream);
  } else {
    absl::StatusOr<KafkaConfig> kafka = KafkaConfigFromFlags(argc, argv);
    if (!kafka.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(kafka.status().message()).c_str());
      return 2;
    }
    if (absl::GetFlag(FLAGS_kafka_max_buffered) < 1) {
      std::fprintf(stderr, "--kafka_max_buffered must be at least 1\n");
      return 2;
    }
    absl::StatusOr<std::unique_ptr<KafkaEventSource>> made_source =
        KafkaEventSource::Create(
            {.kafka = *kafka,
             .topic = absl::GetFlag(FLAGS_kafka_topic),
             .group = absl::GetFlag(FLAGS_group),
             .consumer = consumer,
             .dead_letter_topic = absl::GetFlag(FLAGS_kafka_dead_letter_topic),
             .max_buffered = absl::GetFlag(FLAGS_kafka_max_buffered),
             // A push-only replica must not take partitions it won't read.
             .subscribe = absl::GetFlag(FLAGS_ingest)});
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
        KafkaProducer::Create(*kafka, absl::Seconds(30));
    for (const absl::Status& s : {made_source.status(), producer.status()}) {
      if (!s.ok()) {
        std::fprintf(stderr, "kafka: %s\n", std::string(s.message()).c_str());
        return 2;
      }
    }
    kafka_source = *std::move(made_source);
    kafka_producer = *std::move(producer);
    kafka_sink = std::make_unique<KafkaEventSink>(
        kafka_producer.get(),
        KafkaEventSink::Options{.topic = absl::GetFlag(FLAGS_kafka_topic)});
    source = kafka_source.get();
    sink = kafka_sink.get();
    bus_name = absl::GetFlag(FLAGS_kafka_topic);
  }
  RedisSnapshotStore snapshots(
      consumer_redis->get(),
      {.tombstone_ttl = absl::GetFlag(FLAGS_tombstone_ttl)});
  ClientOptions client_options;
  client_options.target = absl::GetFlag(FLAGS_classifier);
  client_options.timeout = absl::GetFlag(FLAGS_classifier_timeout);
  client_options.tls_server_name =
      absl::GetFlag(FLAGS_classifier_tls_server_name);
  if (absl::GetFlag(FLAGS_classifier_tls) ||
      !absl::GetFlag(FLAGS_classifier_tls_ca_file).empty() ||
      !absl::GetFlag(FLAGS_classifier_tls_cert_file).empty() ||
      !absl::GetFlag(FLAGS_classifier_tls_key_file).empty()) {
    auto creds = TlsCredentials(
        {.ca_file = absl::GetFlag(FLAGS_classifier_tls_ca_file),
         .cert_file = absl::GetFlag(FLAGS_classifier_tls_cert_file),
         .key_file = absl::GetFlag(FLAGS_classifier_tls_key_file)});
    if (!creds.ok()) {
      std::fprintf(stderr, "--classifier_tls_*: %s\n",
                   std::string(creds.status().message()).c_str());
      return 2;
    }
    client_options.credentials = *creds;
  }
  if (const std::string path = absl::GetFlag(FLAGS_classifier_token_file);
      !path.empty()) {
    absl::StatusOr<std::string> token =
        ReadSecretFile("classifier_token_file", path);
    if (!token.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(token.status().message()).c_str());
      return 2;
    }
    client_options.token = *std::move(token);
  }
  absl::StatusOr<std::unique_ptr<GrpcClassifier>> classifier =
      GrpcClassifier::Create(client_options);
  if (!classifier.ok()) {
    std::fprintf(stderr, "--classifier: %s\n",
                 std::string(classifier.status().message()).c_str());
    return 2;
  }
  Ingestor ingestor(source, &snapshots, classifier->get(),
                    {.batch_size = batch_size,
                     .batches_in_flight = in_flight,
                     .linger = absl::GetFlag(FLAGS_linger),
                     .max_deliveries = absl::GetFlag(FLAGS_max_deliveries),
                     .store_timeout = redis_timeout});
  EventPusher pusher(sink);
  const bool ingest = absl::GetFlag(FLAGS_ingest);
  // The dead-letter RPCs' store: the stream's dead letters, or the topic's.
  std::unique_ptr<DeadLetterStore> dead_letters;
  if (bus == "redis") {
    dead_letters = std::make_unique<DeadLetterQueue>(
        rpc_redis->get(),
        DeadLetterQueue::Options{
            .dead_letter_stream = absl::GetFlag(FLAGS_dead_letter_stream),
            .stream = absl::GetFlag(FLAGS_stream),
            .stream_max_len = absl::GetFlag(FLAGS_stream_max_len),
            .timeout = redis_timeout});
  } else {
    absl::StatusOr<KafkaConfig> kafka = KafkaConfigFromFlags(argc, argv);
    absl::StatusOr<std::unique_ptr<KafkaDeadLetterQueue>> made =
        kafka.ok()
            ? KafkaDeadLetterQueue::Create(
                  {.kafka = *kafka,
                   .dead_letter_topic =
                       absl::GetFlag(FLAGS_kafka_dead_letter_topic),
                   .topic = absl::GetFlag(FLAGS_kafka_topic),
                   .replay_group = absl::GetFlag(FLAGS_kafka_replay_group)})
            : absl::StatusOr<std::unique_ptr<KafkaDeadLetterQueue>>(
                  kafka.status());
    if (!made.ok()) {
      std::fprintf(stderr, "kafka: %s\n",
                   std::string(made.status().message()).c_str());
      return 2;
    }
    dead_letters = *std::move(made);
  }
  IngestionServiceImpl service(&pusher, source, ingest ? &ingestor : nullptr,
                               dead_letters.get(),
                               {.stream = bus_name,
                                .group = absl::GetFlag(FLAGS_group),
                                .consumer = consumer,
                                .bus = bus});
  GrpcServer::Options server_options;
  server_options.listen = absl::GetFlag(FLAGS_listen);
  if (absl::Status s = ApplyServerLimitFlags(&server_options.limits); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = ApplyServerSecurityFlags(&server_options); !s.ok()) {
    Log(LogLevel::kError, "ingestion",
        absl::StrCat("cannot start: ", s.message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      server_options, {&service}, {"oppmatrix.v1.IngestionService"});
  if (!server.ok()) {
    Log(LogLevel::kError, "ingestion",
        absl::StrCat("cannot start: ", server.status().message()));
    return 1;
  }
  Log(LogLevel::kInfo, "ingestion",
      absl::StrCat(
          "serving on ", absl::GetFlag(FLAGS_listen), " (port ",
          (*server)->port(), ")",
          server_options.tls_cert_file.empty() ? "" : " with TLS",
          server_options.auth_token.empty() ? "" : " and a bearer token", "; ",
          bus == "redis" ? "stream " : "Kafka topic ", bus_name, ", group ",
          absl::GetFlag(FLAGS_group), ", consumer ", consumer, ", redis ",
          endpoint->ToSafeString(), ", classifier ", client_options.target,
          ingest ? "" : " (push only)"));

  std::atomic<bool> stop{false};
  std::thread worker;
  if (ingest) worker = std::thread([&] { ingestor.Run(stop); });

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  Log(LogLevel::kInfo, "ingestion",
      absl::StrCat(sig == SIGTERM ? "SIGTERM" : "SIGINT",
                   ": finishing the batch in hand, then stopping"));
  stop = true;
  if (worker.joinable()) worker.join();
  if (kafka_source != nullptr) {
    // Commits what is acknowledged and leaves the group at once.
    kafka_source->Close();
    Log(LogLevel::kInfo, "ingestion",
        absl::StrCat("consumer ", consumer, " left the group"));
  } else if (ingest) {
    // Its batch is acknowledged (or left pending, which keeps the name).
    absl::StatusOr<bool> removed = redis_source->RemoveSelf();
    Log(LogLevel::kInfo, "ingestion",
        !removed.ok()
            ? absl::StrCat("consumer ", consumer,
                           " stays in the group: ", removed.status().message())
        : *removed ? absl::StrCat("consumer ", consumer, " left the group")
                   : absl::StrCat("consumer ", consumer,
                                  " stays in the group: events pending"));
  }
  (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  Ingestor::Stats s = ingestor.stats();
  Log(LogLevel::kInfo, "ingestion",
      absl::StrCat("stopped: ", s.processed, " events processed, ",
                   s.dead_lettered, " dead-lettered"));
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
      "oppmatrix-ingestion: CRM events from the bus into classifications.\n"
      "Every flag can also be set as OPPMATRIX_<FLAG>, e.g. "
      "OPPMATRIX_CLASSIFIER=classifier:50051.");
  return oppmatrix::Run(argc, argv);
}
