#include "services/ingestion/ingestion_service.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"

namespace oppmatrix {

// Reads messages until the client half-closes, pushing each; answers the
// accumulated response, or the first error. A message's events go to the
// bus without holding a gRPC thread: the next read starts when the bus has
// taken them, from the bus client's thread.
class IngestionServiceImpl::PushReactor final
    : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  PushReactor(IngestionServiceImpl* service, grpc::ByteBuffer* response)
      : service_(service), response_bytes_(response) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      *response_bytes_ = ToByteBuffer(response_);
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t before = response_.accepted();
    service_->pusher_->PushBytesAsync(
        ByteBufferToString(request_bytes_), messages_++, &response_,
        [this, before](absl::Status s) {
          service_->pushed_ += response_.accepted() - before;
          if (!s.ok()) {
            Finish(ToGrpcStatus(s));
            return;
          }
          StartRead(&request_bytes_);
        });
  }

  void OnDone() override { delete this; }

 private:
  IngestionServiceImpl* service_;
  grpc::ByteBuffer* response_bytes_;
  grpc::ByteBuffer request_bytes_;
  v1::PushEventsResponse response_;
  int64_t messages_ = 0;
};

IngestionServiceImpl::IngestionServiceImpl(EventPusher* pusher,
                                           EventSource* source,
                                           const Ingestor* ingestor,
                                           Identity identity)
    : pusher_(pusher),
      source_(source),
      ingestor_(ingestor),
      identity_(std::move(identity)) {
  RouteProtobufLogs();
}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestionServiceImpl::PushEvents(
    grpc::CallbackServerContext*, grpc::ByteBuffer* response) {
  return new PushReactor(this, response);
}

grpc::ServerUnaryReactor* IngestionServiceImpl::GetStatus(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::GetStatusRequest request;
  if (absl::Status s = ParseProtoBytes(*request_bytes, &request); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  // The bus's counts come from its client's thread; the call finishes
  // there.
  source_->StatsAsync(
      [this, reactor, response_bytes](absl::StatusOr<SourceStats> bus) {
        if (!bus.ok()) {
          reactor->Finish(ToGrpcStatus(UnavailableWithLogId(
              "the event bus is unavailable", bus.status())));
          return;
        }
        *response_bytes = ToByteBuffer(StatusResponse(*bus));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

v1::GetStatusResponse IngestionServiceImpl::StatusResponse(
    const SourceStats& bus) const {
  v1::GetStatusResponse status;
  v1::GetStatusResponse* response = &status;
  response->set_stream(identity_.stream);
  response->set_group(identity_.group);
  response->set_consumer(identity_.consumer);
  response->set_lag(bus.lag);
  response->set_pending(bus.pending);
  response->set_consumers(bus.consumers);
  response->set_pushed(pushed_.load());
  if (ingestor_ != nullptr) {
    Ingestor::Stats s = ingestor_->stats();
    response->set_processed(s.processed);
    response->set_stale(s.stale);
    response->set_duplicates(s.duplicates);
    response->set_dead_lettered(s.dead_lettered);
    response->set_classifier_errors(s.classifier_errors);
    response->set_store_errors(s.store_errors);
    response->set_batches(s.batches);
    response->set_last_error(s.last_error);
    if (s.last_error_time != absl::InfinitePast()) {
      *response->mutable_last_error_time() =
          google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
              absl::ToUnixNanos(s.last_error_time));
    }
  }
  return status;
}

}  // namespace oppmatrix
