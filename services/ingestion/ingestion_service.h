// gRPC glue for oppmatrix.v1.IngestionService (callback API): PushEvents
// hands each message to the EventPusher, GetStatus reads the bus's and the
// pipeline's figures, the dead-letter RPCs go to the DeadLetterStore. No
// event logic lives here, and no handler waits on I/O: each call finishes
// from the Redis client's thread.
//
//   IngestionServiceImpl service(&pusher, &source, &ingestor, &dlq,
//                                identity);
#ifndef OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_
#define OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "oppmatrix/v1/ingestion_service.grpc.pb.h"
#include "services/ingestion/dead_letters.h"
#include "services/ingestion/event_source.h"
#include "services/ingestion/ingestor.h"
#include "services/ingestion/push.h"

namespace oppmatrix {

// Raw callback methods: the service parses the request bytes itself, so a
// message that does not decode is answered (PushEvents counts it as
// rejected, GetStatus is INVALID_ARGUMENT), never taken for a half-close.
using RawIngestionService =
    v1::IngestionService::WithRawCallbackMethod_PushEvents<
        v1::IngestionService::WithRawCallbackMethod_GetStatus<
            v1::IngestionService::WithRawCallbackMethod_ListDeadLetters<
                v1::IngestionService::
                    WithRawCallbackMethod_SummarizeDeadLetters<
                        v1::IngestionService::
                            WithRawCallbackMethod_ReplayDeadLetters<
                                v1::IngestionService::Service>>>>>;

// Limits of the dead-letter RPCs (documented in the proto and the README).
inline constexpr int kDefaultDeadLetterPageSize = 50;
inline constexpr int kMaxDeadLetterPageSize = 500;
inline constexpr int64_t kDefaultSummaryEntries = 100000;
inline constexpr int64_t kMaxSummaryEntries = 1000000;
inline constexpr int kMaxReplayIds = 1000;
// A listed dead letter's event is cut at this many bytes, and a page ends
// once its events add up to the second figure.
inline constexpr size_t kMaxListedEventBytes = 64 << 10;
inline constexpr size_t kMaxDeadLetterPageBytes = 2 << 20;

class IngestionServiceImpl final : public RawIngestionService {
 public:
  // Names reported by GetStatus.
  struct Identity {
    std::string stream;  // or topic
    std::string group;
    std::string consumer;
    std::string bus = "redis";  // or "kafka"
  };

  // Every pointer must outlive the service; `ingestor` may be null (a
  // push-only replica), and `dead_letters` too (the dead-letter RPCs are
  // then UNAVAILABLE).
  IngestionServiceImpl(EventPusher* pusher, EventSource* source,
                       const Ingestor* ingestor, DeadLetterStore* dead_letters,
                       Identity identity);

  grpc::ServerReadReactor<grpc::ByteBuffer>* PushEvents(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SummarizeDeadLetters(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetters(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

 private:
  // GetStatus's answer, from the bus's counts and the ingestor's.
  v1::GetStatusResponse StatusResponse(const SourceStats& bus) const;
  class PushReactor;

  EventPusher* pusher_;
  EventSource* source_;
  const Ingestor* ingestor_;
  DeadLetterStore* dead_letters_;
  const Identity identity_;
  std::atomic<int64_t> pushed_{0};
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_
