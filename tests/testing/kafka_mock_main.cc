// oppmatrix-kafka-mock: librdkafka's mock Kafka cluster as a process of its
// own, for benchmarks and trying the Kafka bus without a Kafka: brokers on
// loopback that any Kafka client (the ingestion service, the simulator,
// kcat) can reach. It prints "bootstrap HOST:PORT,..." on standard output
// once the topics exist, and runs until SIGTERM or SIGINT.
//
//   oppmatrix-kafka-mock --brokers=3 --topics=crm-events:8,crm-events-dead:2
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "services/common/env_flags.h"

ABSL_FLAG(int, brokers, 3, "Brokers in the cluster (1-10)");
ABSL_FLAG(std::string, topics,
          "oppmatrix.crm-events:8,oppmatrix.crm-events.dead:2",
          "Topics to create, name:partitions, comma-separated");

int main(int argc, char** argv) {
  oppmatrix::ParseFlagsWithEnv(
      argc, argv,
      "oppmatrix-kafka-mock: librdkafka's mock Kafka cluster on loopback, "
      "until SIGTERM.",
      {.tool_flag = "brokers",
       .tool_prefix = "OPPMATRIX_KAFKA_MOCK_",
       .shared_tool_flags = {}});
  const int brokers = absl::GetFlag(FLAGS_brokers);
  std::vector<std::pair<std::string, int>> topics;
  for (absl::string_view t :
       absl::StrSplit(absl::GetFlag(FLAGS_topics), ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(t, absl::MaxSplits(':', 1));
    int partitions = 0;
    if (parts.first.empty() || !absl::SimpleAtoi(parts.second, &partitions) ||
        partitions < 1 || partitions > 1000) {
      std::fprintf(stderr, "--topics: \"%s\" is not name:partitions (1-1000)\n",
                   std::string(t).c_str());
      return 2;
    }
    topics.emplace_back(std::string(parts.first), partitions);
  }
  if (brokers < 1 || brokers > 10) {
    std::fprintf(stderr, "--brokers must be 1-10\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only carries the cluster; it never connects.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "the mock cluster did not start\n");
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    if (rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1);
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "creating %s: %s\n", name.c_str(),
                   rd_kafka_err2str(e));
      return 1;
    }
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
