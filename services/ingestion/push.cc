#include "services/ingestion/push.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/grpc_status.h"
#include "services/common/proto_bytes.h"
#include "services/common/status_macros.h"
#include "services/common/status_util.h"
#include "services/ingestion/crm_event.h"

namespace oppmatrix {
namespace {

// Counts one refused event at the next index of the call, after `queued`
// events that are to be appended.
void Reject(std::string event_id, std::vector<FieldViolation> violations,
            v1::PushEventsResponse* response, size_t queued) {
  const int64_t index = response->accepted() + response->rejected() +
                        static_cast<int64_t>(queued);
  response->set_rejected(response->rejected() + 1);
  if (response->rejections_size() >= kMaxListedRejections) return;
  v1::RejectedEvent* r = response->add_rejections();
  r->set_index(index);
  r->set_event_id(std::move(event_id));
  for (FieldViolation& f : violations) *r->add_violations() = std::move(f);
}

absl::Status TooMany(size_t events) {
  std::vector<FieldViolation> v;
  AddViolation(v, "events",
               absl::StrCat("at most ", kMaxEventsPerPush,
                            " events per message, got ", events));
  return InvalidArgumentWithViolations("message too large", v);
}

// The violations of an event that did not decode.
std::vector<FieldViolation> UndecodableViolations(const absl::Status& s) {
  std::vector<FieldViolation> v = GetFieldViolations(s);
  if (v.empty()) AddViolation(v, "", s.message());
  return v;
}

}  // namespace

absl::Status EventPusher::PrepareBytes(absl::string_view bytes,
                                       int64_t message_index,
                                       v1::PushEventsResponse* response,
                                       std::vector<std::string>& payloads) {
  const std::string what = absl::StrCat("message ", message_index);
  v1::PushEventsRequest request;
  absl::Status parsed = ParseProtoBytes(bytes, &request, what);
  if (parsed.ok()) return Prepare(request, response, payloads);
  std::vector<std::string> events;
  const bool whole = ForEachLengthDelimited(
      bytes, v1::PushEventsRequest::kEventsFieldNumber,
      [&events](absl::string_view e) { events.emplace_back(e); });
  if (events.size() > kMaxEventsPerPush) return TooMany(events.size());
  // Event by event, in order: a refusal's index counts the decodable events
  // before it.
  for (const std::string& bytes_of_event : events) {
    v1::CrmEvent event;
    absl::Status s = ParseProtoBytes(bytes_of_event, &event,
                                     absl::StrCat("an event of ", what));
    if (s.ok()) {
      *request.add_events() = std::move(event);
      continue;
    }
    OPPMATRIX_RETURN_IF_ERROR(Prepare(request, response, payloads));
    request.clear_events();
    Reject("", UndecodableViolations(s), response, payloads.size());
  }
  OPPMATRIX_RETURN_IF_ERROR(Prepare(request, response, payloads));
  if (!whole) {
    std::vector<FieldViolation> v;
    AddViolation(v, "",
                 absl::StrCat("the rest of ", what,
                              " is not a valid oppmatrix.v1.CrmEvent: its "
                              "bytes do not decode"));
    Reject("", std::move(v), response, payloads.size());
  }
  return absl::OkStatus();
}

absl::Status EventPusher::Prepare(const v1::PushEventsRequest& request,
                                  v1::PushEventsResponse* response,
                                  std::vector<std::string>& payloads) {
  if (request.events_size() > kMaxEventsPerPush) {
    return TooMany(request.events_size());
  }
  payloads.reserve(payloads.size() + request.events_size());
  for (const v1::CrmEvent& event : request.events()) {
    std::vector<FieldViolation> v;
    ValidateCrmEvent(event, "", v);
    std::string json;
    if (v.empty()) {
      // A valid message always prints.
      (void)google::protobuf::util::MessageToJsonString(event, &json);
      if (json.size() > kMaxEventJsonBytes) {
        AddViolation(v, "",
                     absl::StrCat("is ", json.size(),
                                  " bytes as JSON, more than the bus's limit "
                                  "of ",
                                  kMaxEventJsonBytes));
      }
    }
    if (!v.empty()) {
      Reject(event.event_id(), std::move(v), response, payloads.size());
    } else {
      payloads.push_back(std::move(json));
    }
  }
  return absl::OkStatus();
}

absl::Status EventPusher::Appended(absl::Status appended, size_t payloads,
                                   v1::PushEventsResponse* response) {
  if (!appended.ok()) {
    return UnavailableWithLogId(
        absl::StrCat("the event bus is unavailable; ", response->accepted(),
                     " events of this call were appended before"),
        appended);
  }
  response->set_accepted(response->accepted() + static_cast<int64_t>(payloads));
  return absl::OkStatus();
}

absl::Status EventPusher::Push(const v1::PushEventsRequest& request,
                               v1::PushEventsResponse* response) {
  std::vector<std::string> payloads;
  OPPMATRIX_RETURN_IF_ERROR(Prepare(request, response, payloads));
  return Appended(sink_->Append(payloads), payloads.size(), response);
}

absl::Status EventPusher::PushBytes(absl::string_view bytes,
                                    int64_t message_index,
                                    v1::PushEventsResponse* response) {
  std::vector<std::string> payloads;
  OPPMATRIX_RETURN_IF_ERROR(
      PrepareBytes(bytes, message_index, response, payloads));
  return Appended(sink_->Append(payloads), payloads.size(), response);
}

void EventPusher::PushBytesAsync(absl::string_view bytes, int64_t message_index,
                                 v1::PushEventsResponse* response,
                                 PushCallback done) {
  std::vector<std::string> payloads;
  if (absl::Status s = PrepareBytes(bytes, message_index, response, payloads);
      !s.ok()) {
    std::move(done)(s);
    return;
  }
  const size_t n = payloads.size();
  sink_->AppendAsync(std::move(payloads), [n, response, done = std::move(done)](
                                              absl::Status appended) mutable {
    std::move(done)(Appended(appended, n, response));
  });
}

}  // namespace oppmatrix
