#include "services/ingestion/ingestion_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/grpc_status.h"

namespace oppmatrix {

// Reads messages until the client half-closes, pushing each; answers the
// accumulated response, or the first error.
class IngestionServiceImpl::PushReactor final
    : public grpc::ServerReadReactor<v1::PushEventsRequest> {
 public:
  PushReactor(IngestionServiceImpl* service, v1::PushEventsResponse* response)
      : service_(service), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t before = response_->accepted();
    absl::Status s = service_->pusher_->Push(request_, response_);
    service_->pushed_ += response_->accepted() - before;
    if (!s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  IngestionServiceImpl* service_;
  v1::PushEventsResponse* response_;
  v1::PushEventsRequest request_;
};

IngestionServiceImpl::IngestionServiceImpl(EventPusher* pusher,
                                           EventSource* source,
                                           const Ingestor* ingestor,
                                           Identity identity)
    : pusher_(pusher),
      source_(source),
      ingestor_(ingestor),
      identity_(std::move(identity)) {}

grpc::ServerReadReactor<v1::PushEventsRequest>*
IngestionServiceImpl::PushEvents(grpc::CallbackServerContext*,
                                 v1::PushEventsResponse* response) {
  return new PushReactor(this, response);
}

grpc::ServerUnaryReactor* IngestionServiceImpl::GetStatus(
    grpc::CallbackServerContext* context, const v1::GetStatusRequest*,
    v1::GetStatusResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<SourceStats> bus = source_->Stats();
  if (!bus.ok()) {
    reactor->Finish(ToGrpcStatus(absl::UnavailableError(absl::StrCat(
        "the event bus is unavailable: ", bus.status().message()))));
    return reactor;
  }
  response->set_stream(identity_.stream);
  response->set_group(identity_.group);
  response->set_consumer(identity_.consumer);
  response->set_lag(bus->lag);
  response->set_pending(bus->pending);
  response->set_consumers(bus->consumers);
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
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace oppmatrix
