// Renders classifications for people (an aligned table) and for scripts
// (canonical JSON with the proto field names).
//
//   std::cout << FormatClassificationTable(c);
#ifndef OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_
#define OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "oppmatrix/v1/classification.pb.h"

namespace oppmatrix {

// A readable multi-line table of one classification.
std::string FormatClassificationTable(const v1::Classification& c);

// The classified opportunities placed on the matrix: one box per
// (potential band, relationship band) seen, relationship rising upwards,
// potential rising to the right, with the cell id and the opportunity ids
// in priority order.
std::string FormatMatrixSummary(const std::vector<v1::Classification>& results);

// One line of JSON with proto field names (snake_case).
std::string FormatJson(const google::protobuf::Message& message);

// An error for people: the status, then one line per field violation.
std::string FormatError(const absl::Status& status);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_FORMAT_H_
