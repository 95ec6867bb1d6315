// gRPC glue for oppmatrix.v1.IngestionService (callback API): PushEvents
// hands each message to the EventPusher, GetStatus reads the bus's and the
// pipeline's figures. No event logic lives here.
//
//   IngestionServiceImpl service(&pusher, &source, &ingestor, identity);
#ifndef OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_
#define OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "oppmatrix/v1/ingestion_service.grpc.pb.h"
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
            v1::IngestionService::Service>>;

class IngestionServiceImpl final : public RawIngestionService {
 public:
  // Names reported by GetStatus.
  struct Identity {
    std::string stream;
    std::string group;
    std::string consumer;
  };

  // Every pointer must outlive the service; `ingestor` may be null (a
  // push-only replica).
  IngestionServiceImpl(EventPusher* pusher, EventSource* source,
                       const Ingestor* ingestor, Identity identity);

  grpc::ServerReadReactor<grpc::ByteBuffer>* PushEvents(
      grpc::CallbackServerContext* context,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

 private:
  // GetStatus's answer, from the bus's counts and the ingestor's.
  v1::GetStatusResponse StatusResponse(const SourceStats& bus) const;
  class PushReactor;

  EventPusher* pusher_;
  EventSource* source_;
  const Ingestor* ingestor_;
  const Identity identity_;
  std::atomic<int64_t> pushed_{0};
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_INGESTION_SERVICE_H_
