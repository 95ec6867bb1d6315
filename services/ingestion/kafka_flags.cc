#include "services/ingestion/kafka_flags.h"

#include <vector>

#include "absl/flags/flag.h"
#include "services/common/env_flags.h"

ABSL_FLAG(std::string, kafka_brokers, "127.0.0.1:9092",
          "Kafka's bootstrap servers, host:port[,host:port...] (with "
          "--bus=kafka)");
ABSL_FLAG(std::string, kafka_topic, "oppmatrix.crm-events",
          "The Kafka topic of CRM events; messages keyed by "
          "tenant/opportunity, with a content-type header for protobuf");
ABSL_FLAG(std::string, kafka_property, "",
          "A librdkafka property for every Kafka client, name=value (e.g. "
          "security.protocol=SASL_SSL); repeatable, each adds one. "
          "OPPMATRIX_KAFKA_PROPERTY holds several, one per line");
ABSL_FLAG(std::string, kafka_properties_file, "",
          "A file of librdkafka properties (name=value lines, # comments), "
          "applied before --kafka_property");

namespace oppmatrix {

absl::StatusOr<KafkaConfig> KafkaConfigFromFlags(int argc, char** argv) {
  const std::vector<std::string> flags = RepeatedFlagValues(
      argc, argv, "kafka_property", EnvNameForFlag("kafka_property"));
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> properties =
      ParseKafkaProperties(flags, absl::GetFlag(FLAGS_kafka_properties_file));
  if (!properties.ok()) return properties.status();
  if (absl::GetFlag(FLAGS_kafka_brokers).empty()) {
    return absl::InvalidArgumentError("--kafka_brokers: must not be empty");
  }
  return KafkaConfig{.brokers = absl::GetFlag(FLAGS_kafka_brokers),
                     .properties = *std::move(properties)};
}

}  // namespace oppmatrix
