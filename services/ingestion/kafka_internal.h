// Helpers the Kafka bus's files share (kafka_bus.cc, kafka_dead_letters.cc):
// librdkafka configurations, callbacks, ids and headers. Not for use
// outside services/ingestion.
#ifndef OPPMATRIX_SERVICES_INGESTION_KAFKA_INTERNAL_H_
#define OPPMATRIX_SERVICES_INGESTION_KAFKA_INTERNAL_H_

#include <librdkafka/rdkafka.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/ingestion/kafka_bus.h"

namespace oppmatrix::kafka_internal {

// `d` in whole milliseconds, at least 1, for librdkafka's timeouts.
int Millis(absl::Duration d);

// UNAVAILABLE "kafka: <what>: <librdkafka's words for err>".
absl::Status KafkaUnavailable(absl::string_view what, rd_kafka_resp_err_t err);

// A configuration with the brokers, `defaults`, then `config`'s properties
// over them, logging through the service's log. INVALID_ARGUMENT naming a
// property librdkafka refuses.
absl::StatusOr<rd_kafka_conf_t*> NewKafkaConf(
    const KafkaConfig& config,
    std::initializer_list<std::pair<const char*, std::string>> defaults);

// An error_cb that logs a client-wide error (brokers down, authentication
// failed), which librdkafka retries itself.
void KafkaErrorCallback(rd_kafka_t* rk, int err, const char* reason, void*);

// "3:1042" to (3, 1042); false for anything else.
bool ParseKafkaId(absl::string_view id, int32_t* partition, int64_t* offset);

// One partition's offsets: the committed one of the handle's group.id (-1:
// none), and the low and high watermarks.
struct PartitionOffsets {
  int32_t partition = 0;
  int64_t committed = -1;
  int64_t low = 0;
  int64_t high = 0;
};

// Every partition of `topic`, in order; none when the topic does not exist
// (yet). UNAVAILABLE for any other broker error, a partition's included.
absl::StatusOr<std::vector<PartitionOffsets>> QueryPartitionOffsets(
    rd_kafka_t* rk, const std::string& topic, absl::Duration timeout);

// The last value of header `name` of `m`; empty when it has none.
std::string KafkaHeader(rd_kafka_message_t* m, const char* name);

}  // namespace oppmatrix::kafka_internal

#endif  // OPPMATRIX_SERVICES_INGESTION_KAFKA_INTERNAL_H_
