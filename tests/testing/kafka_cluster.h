// librdkafka's mock Kafka cluster, in the test process, for tests of the
// Kafka bus: real brokers as far as any client can tell (the service's
// processes, kcat), listening on loopback, with errors to inject.
//
//   auto kafka = testing::MockKafkaCluster::Start(3);
//   ASSERT_TRUE((*kafka)->CreateTopic("events", 4).ok());
//   ... --kafka_brokers=(*kafka)->bootstraps() ...
//   rd_kafka_mock_push_request_errors((*kafka)->cluster(), ...);
#ifndef OPPMATRIX_TESTS_TESTING_KAFKA_CLUSTER_H_
#define OPPMATRIX_TESTS_TESTING_KAFKA_CLUSTER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace oppmatrix::testing {

class MockKafkaCluster {
 public:
  static absl::StatusOr<std::unique_ptr<MockKafkaCluster>> Start(int brokers);
  ~MockKafkaCluster();

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstraps() const { return bootstraps_; }
  absl::Status CreateTopic(const std::string& topic, int partitions);
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

 private:
  MockKafkaCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* cluster);

  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* cluster_;
  std::string bootstraps_;
};

// A message as a plain consumer read it.
struct KafkaRecord {
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// The first `n` messages of `topic` (of `partitions` partitions), read from
// the start by a consumer assigned every partition (no group); fewer if
// no more come within 20 s.
std::vector<KafkaRecord> ReadTopic(const std::string& brokers,
                                   const std::string& topic, int partitions,
                                   size_t n);

}  // namespace oppmatrix::testing

#endif  // OPPMATRIX_TESTS_TESTING_KAFKA_CLUSTER_H_
