#include "services/ingestion/ingestion_service.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"
#include "services/common/status_util.h"
#include "services/store/redis_client.h"

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
                                           DeadLetterStore* dead_letters,
                                           Identity identity)
    : pusher_(pusher),
      source_(source),
      ingestor_(ingestor),
      dead_letters_(dead_letters),
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
  response->set_bus(identity_.bus);
  response->set_rebalances(bus.rebalances);
  for (const PartitionStats& p : bus.partitions) {
    v1::PartitionStatus* out = response->add_partitions();
    out->set_partition(p.partition);
    out->set_committed_offset(p.committed);
    out->set_high_watermark(p.high_watermark);
    out->set_lag(p.lag);
    out->set_assigned(p.assigned);
    out->set_paused(p.paused);
  }
  response->set_pushed(pushed_.load());
  if (ingestor_ != nullptr) {
    Ingestor::Stats s = ingestor_->stats();
    response->set_processed(s.processed);
    response->set_stale(s.stale);
    response->set_duplicates(s.duplicates);
    response->set_dead_lettered(s.dead_lettered);
    response->set_released(s.released);
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

namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

// The dead-letter store's failures as the caller sees them: NOT_FOUND
// and INVALID_ARGUMENT as they are, the rest without Redis's words.
absl::Status DeadLetterStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kCancelled:
      return status;
    default:
      return UnavailableWithLogId("the dead-letter stream is unavailable",
                                  status);
  }
}

void CheckEntryId(const DeadLetterStore& store, absl::string_view id,
                  const std::string& field, std::vector<FieldViolation>& v) {
  if (!store.IsEntryId(id)) {
    AddViolation(v, field, absl::StrCat("must be ", store.EntryIdForm()));
  }
}

// Parses the request, or finishes the call with why it can't be taken.
template <typename Request>
bool TakeRequest(const grpc::ByteBuffer* bytes, Request* request,
                 const DeadLetterStore* dlq,
                 grpc::ServerUnaryReactor* reactor) {
  if (absl::Status s = ParseProtoBytes(*bytes, request); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return false;
  }
  if (dlq == nullptr) {
    reactor->Finish(ToGrpcStatus(
        absl::UnavailableError("this replica serves no dead letters")));
    return false;
  }
  return true;
}

}  // namespace

grpc::ServerUnaryReactor* IngestionServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::ListDeadLettersRequest request;
  if (!TakeRequest(request_bytes, &request, dead_letters_, reactor)) {
    return reactor;
  }
  std::vector<FieldViolation> v;
  if (request.page_size() < 0 || request.page_size() > kMaxDeadLetterPageSize) {
    AddViolation(
        v, "page_size",
        absl::StrCat("must be between 0 (default ", kDefaultDeadLetterPageSize,
                     ") and ", kMaxDeadLetterPageSize, ", got ",
                     request.page_size()));
  }
  if (!request.page_token().empty()) {
    CheckEntryId(*dead_letters_, request.page_token(), "page_token", v);
  }
  if (!v.empty()) {
    reactor->Finish(
        ToGrpcStatus(InvalidArgumentWithViolations("invalid request", v)));
    return reactor;
  }
  const int page_size = request.page_size() == 0 ? kDefaultDeadLetterPageSize
                                                 : request.page_size();
  // One more than the page tells whether there is a next one.
  dead_letters_->ListAsync(
      page_size + 1, request.page_token(),
      [reactor, response_bytes,
       page_size](absl::StatusOr<std::vector<DeadLetterEntry>> entries) {
        if (!entries.ok()) {
          reactor->Finish(ToGrpcStatus(DeadLetterStatus(entries.status())));
          return;
        }
        v1::ListDeadLettersResponse response;
        bool more = static_cast<int>(entries->size()) > page_size;
        if (more) entries->resize(page_size);
        size_t bytes = 0;
        for (size_t i = 0; i < entries->size(); ++i) {
          DeadLetterEntry& e = (*entries)[i];
          // The page ends early rather than outgrow a response.
          if (i > 0 && bytes + std::min(e.event.size(), kMaxListedEventBytes) >
                           kMaxDeadLetterPageBytes) {
            entries->resize(i);
            more = true;
            break;
          }
          v1::DeadLetter* d = response.add_dead_letters();
          d->set_id(e.id);
          if (e.event.size() > kMaxListedEventBytes) {
            e.event.resize(kMaxListedEventBytes);
            d->set_event_truncated(true);
          }
          bytes += e.event.size();
          d->set_event(std::move(e.event));
          d->set_content_type(std::move(e.content_type));
          d->set_reason(std::move(e.reason));
          d->set_deliveries(e.deliveries);
          d->set_source_stream(std::move(e.source_stream));
          d->set_source_id(std::move(e.source_id));
          if (e.time != absl::InfinitePast()) {
            *d->mutable_time() = ToTimestamp(e.time);
          }
        }
        if (more) response.set_next_page_token(entries->back().id);
        *response_bytes = ToByteBuffer(response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* IngestionServiceImpl::SummarizeDeadLetters(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::SummarizeDeadLettersRequest request;
  if (!TakeRequest(request_bytes, &request, dead_letters_, reactor)) {
    return reactor;
  }
  if (request.max_entries() < 0 || request.max_entries() > kMaxSummaryEntries) {
    std::vector<FieldViolation> v;
    AddViolation(
        v, "max_entries",
        absl::StrCat("must be between 0 (default ", kDefaultSummaryEntries,
                     ") and ", kMaxSummaryEntries, ", got ",
                     request.max_entries()));
    reactor->Finish(
        ToGrpcStatus(InvalidArgumentWithViolations("invalid request", v)));
    return reactor;
  }
  const int64_t max_entries = request.max_entries() == 0
                                  ? kDefaultSummaryEntries
                                  : request.max_entries();
  dead_letters_->SummarizeAsync(
      max_entries,
      [reactor,
       response_bytes](absl::StatusOr<DeadLetterStore::Summary> summary) {
        if (!summary.ok()) {
          reactor->Finish(ToGrpcStatus(DeadLetterStatus(summary.status())));
          return;
        }
        v1::SummarizeDeadLettersResponse response;
        response.set_entries(summary->entries);
        response.set_truncated(summary->truncated);
        for (const DeadLetterGroup& g : summary->groups) {
          v1::DeadLetterGroup* out = response.add_groups();
          out->set_reason(g.reason);
          out->set_count(g.count);
          if (g.first != absl::InfiniteFuture()) {
            *out->mutable_first_time() = ToTimestamp(g.first);
          }
          if (g.last != absl::InfinitePast()) {
            *out->mutable_last_time() = ToTimestamp(g.last);
          }
          out->set_example_id(g.example_id);
          out->set_example_event_id(g.example_event_id);
          out->set_example_reason(g.example_reason);
        }
        *response_bytes = ToByteBuffer(response);
        reactor->Finish(grpc::Status::OK);
      },
      [context] { return context->IsCancelled(); });
  return reactor;
}

grpc::ServerUnaryReactor* IngestionServiceImpl::ReplayDeadLetters(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::ReplayDeadLettersRequest request;
  if (!TakeRequest(request_bytes, &request, dead_letters_, reactor)) {
    return reactor;
  }
  std::vector<FieldViolation> v;
  if (request.all() && request.ids_size() > 0) {
    AddViolation(v, "ids", "must be empty with `all`");
  } else if (!request.all() && request.ids_size() == 0) {
    AddViolation(v, "ids", "is required (or set `all`)");
  } else if (request.ids_size() > kMaxReplayIds) {
    AddViolation(v, "ids",
                 absl::StrCat("at most ", kMaxReplayIds, " ids, got ",
                              request.ids_size()));
  } else {
    for (int i = 0; i < request.ids_size(); ++i) {
      CheckEntryId(*dead_letters_, request.ids(i), absl::StrCat("ids[", i, "]"),
                   v);
    }
  }
  if (!v.empty()) {
    reactor->Finish(
        ToGrpcStatus(InvalidArgumentWithViolations("invalid request", v)));
    return reactor;
  }
  auto done = [reactor, response_bytes, stream = dead_letters_->ReplayTarget()](
                  absl::StatusOr<DeadLetterStore::Replayed> r) {
    if (!r.ok()) {
      reactor->Finish(ToGrpcStatus(DeadLetterStatus(r.status())));
      return;
    }
    v1::ReplayDeadLettersResponse response;
    response.set_replayed(r->replayed);
    response.set_requested(r->requested);
    response.set_stream(stream);
    *response_bytes = ToByteBuffer(response);
    reactor->Finish(grpc::Status::OK);
  };
  if (request.all()) {
    dead_letters_->ReplayAllAsync(std::move(done),
                                  [context] { return context->IsCancelled(); });
  } else {
    dead_letters_->ReplayAsync(
        std::vector<std::string>(request.ids().begin(), request.ids().end()),
        std::move(done));
  }
  return reactor;
}

}  // namespace oppmatrix
