// A fast path for protobuf's JSON mapping: simdjson parses the text, and
// the message is filled by reflection, for the inputs that protobuf's own
// parser (JsonStringToMessage, unknown fields refused) reads the same way:
// objects keyed by json_name or field name, strings, booleans, numbers of
// the field's range, int64 as a decimal string, enum names, nested
// messages, repeated fields, map<string, string>, Timestamp in RFC 3339
// and FieldMask in lowerCamelCase. Anything else (null, duplicate keys,
// numbers as strings for 32-bit fields, NaN, escapes the fast path does not
// trust, invalid input of any kind) is declined, and the caller runs
// protobuf's parser, whose answer (and error message) stands. So the fast
// path changes only the speed: a differential test holds it to protobuf's
// result on the simulator's events and on messy and hostile ones.
//
//   v1::CrmEvent event;
//   if (!FastJsonToMessage(json, &event)) {
//     event.Clear();
//     ... google::protobuf::util::JsonStringToMessage(json, &event) ...
//   }
#ifndef OPPMATRIX_SERVICES_COMMON_FAST_JSON_H_
#define OPPMATRIX_SERVICES_COMMON_FAST_JSON_H_

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace oppmatrix {

// True when `json` was parsed into `message` (which should be empty);
// false when the fast path declines it, `message` then holding any part.
bool FastJsonToMessage(absl::string_view json,
                       google::protobuf::Message* message);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_FAST_JSON_H_
