// The Kafka flags every executable that reaches the bus shares (the
// ingestion service, the simulator, oppctl import): one definition, so they
// mean the same everywhere and each has its OPPMATRIX_ variable.
//
//   --kafka_brokers, --kafka_topic, --kafka_property (repeatable),
//   --kafka_properties_file
//
//   absl::StatusOr<KafkaConfig> kafka = KafkaConfigFromFlags(argc, argv);
#ifndef OPPMATRIX_SERVICES_INGESTION_KAFKA_FLAGS_H_
#define OPPMATRIX_SERVICES_INGESTION_KAFKA_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "services/ingestion/kafka_bus.h"

ABSL_DECLARE_FLAG(std::string, kafka_brokers);
ABSL_DECLARE_FLAG(std::string, kafka_topic);
ABSL_DECLARE_FLAG(std::string, kafka_property);
ABSL_DECLARE_FLAG(std::string, kafka_properties_file);

namespace oppmatrix {

// The brokers and properties the flags give (`argc` and `argv` as main got
// them, for the repeated --kafka_property); INVALID_ARGUMENT naming the
// flag at fault.
absl::StatusOr<KafkaConfig> KafkaConfigFromFlags(int argc, char** argv);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_KAFKA_FLAGS_H_
