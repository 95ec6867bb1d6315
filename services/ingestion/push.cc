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

// Counts one refused event at the next index of the call.
void Reject(std::string event_id, std::vector<FieldViolation> violations,
            v1::PushEventsResponse* response) {
  const int64_t index = response->accepted() + response->rejected();
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

absl::Status EventPusher::PushBytes(absl::string_view bytes,
                                    int64_t message_index,
                                    v1::PushEventsResponse* response) {
  const std::string what = absl::StrCat("message ", message_index);
  v1::PushEventsRequest request;
  absl::Status parsed = ParseProtoBytes(bytes, &request, what);
  if (parsed.ok()) return Push(request, response);
  std::vector<std::string> events;
  const bool whole = ForEachLengthDelimited(
      bytes, v1::PushEventsRequest::kEventsFieldNumber,
      [&events](absl::string_view e) { events.emplace_back(e); });
  if (events.size() > kMaxEventsPerPush) return TooMany(events.size());
  // Event by event, in order: the decodable ones before one that is not go
  // to the bus before its refusal is counted, so the indexes hold.
  for (const std::string& bytes_of_event : events) {
    v1::CrmEvent event;
    absl::Status s = ParseProtoBytes(bytes_of_event, &event,
                                     absl::StrCat("an event of ", what));
    if (s.ok()) {
      *request.add_events() = std::move(event);
      continue;
    }
    OPPMATRIX_RETURN_IF_ERROR(Push(request, response));
    request.clear_events();
    Reject("", UndecodableViolations(s), response);
  }
  OPPMATRIX_RETURN_IF_ERROR(Push(request, response));
  if (!whole) {
    std::vector<FieldViolation> v;
    AddViolation(v, "",
                 absl::StrCat("the rest of ", what,
                              " is not a valid oppmatrix.v1.CrmEvent: its "
                              "bytes do not decode"));
    Reject("", std::move(v), response);
  }
  return absl::OkStatus();
}

absl::Status EventPusher::Push(const v1::PushEventsRequest& request,
                               v1::PushEventsResponse* response) {
  if (request.events_size() > kMaxEventsPerPush) {
    return TooMany(request.events_size());
  }
  // Refusals are counted as they come; accepted events only once the bus
  // took them, so the indexes of the refusals are those before.
  int64_t index = response->accepted() + response->rejected();
  std::vector<std::string> payloads;
  payloads.reserve(request.events_size());
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
      response->set_rejected(response->rejected() + 1);
      if (response->rejections_size() < kMaxListedRejections) {
        v1::RejectedEvent* r = response->add_rejections();
        r->set_index(index);
        r->set_event_id(event.event_id());
        for (FieldViolation& f : v) *r->add_violations() = std::move(f);
      }
    } else {
      payloads.push_back(std::move(json));
    }
    ++index;
  }
  if (absl::Status s = sink_->Append(payloads); !s.ok()) {
    return UnavailableWithLogId(
        absl::StrCat("the event bus is unavailable; ", response->accepted(),
                     " events of this call were appended before"),
        s);
  }
  response->set_accepted(response->accepted() +
                         static_cast<int64_t>(payloads.size()));
  return absl::OkStatus();
}

}  // namespace oppmatrix
