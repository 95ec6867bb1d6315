// The names of a dead letter's fields: the one place they are written. A
// dead letter on the Redis stream is an entry with these fields
// (RedisStreamSource writes them, DeadLetterQueue reads them); one on the
// Kafka dead-letter topic is the original message (key and payload) with
// these as headers (KafkaEventSource writes them).
#ifndef OPPMATRIX_SERVICES_INGESTION_DEAD_LETTER_FIELDS_H_
#define OPPMATRIX_SERVICES_INGESTION_DEAD_LETTER_FIELDS_H_

namespace oppmatrix::dead_letter_field {

inline constexpr char kEvent[] = "event";  // the payload, as on the bus
inline constexpr char kContentType[] = "content_type";  // absent: JSON
inline constexpr char kReason[] = "reason";
inline constexpr char kDeliveries[] = "deliveries";
// The stream or topic the event came from, and its id there (a stream id;
// on Kafka "partition:offset").
inline constexpr char kSourceStream[] = "source_stream";
inline constexpr char kSourceId[] = "source_id";
// Kafka only: the id's two parts, as numbers.
inline constexpr char kSourcePartition[] = "source_partition";
inline constexpr char kSourceOffset[] = "source_offset";
inline constexpr char kTime[] = "time";  // Unix ms
// Kafka only: the event was left out, too large for the brokers (its size).
inline constexpr char kEventDropped[] = "event_dropped";

}  // namespace oppmatrix::dead_letter_field

#endif  // OPPMATRIX_SERVICES_INGESTION_DEAD_LETTER_FIELDS_H_
