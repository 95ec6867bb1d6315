// Fuzzes what a stored result keeps for explaining changes
// (services/common/history_codec.h), as a reader meets it in Redis: any
// bytes. Checked, beyond "no crash and no sanitizer report":
//   - FieldDigests of any bytes is a list of "path:digest" with numeric
//     paths and 6-character digests, and of an Opportunity's deterministic
//     encoding the same for the same message;
//   - FieldPathNames of any text is sorted and without repeats;
//   - DecodeContributions of any two texts (split at the first newline)
//     gives nothing, or contributions that encode and decode back the same.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_util.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/hash_util.h"
#include "services/common/history_codec.h"

namespace oppmatrix {
namespace {

void CheckDigests(const std::string& digests) {
  for (absl::string_view entry : absl::StrSplit(digests, ';')) {
    if (digests.empty()) break;
    std::vector<absl::string_view> kv = absl::StrSplit(entry, ':');
    FUZZ_CHECK(kv.size() == 2 && kv[1].size() == 6, "%s", digests.c_str());
    FUZZ_CHECK(!kv[0].empty(), "%s", digests.c_str());
    for (char c : kv[0]) {
      FUZZ_CHECK(absl::ascii_isdigit(c) || c == '.', "%s", digests.c_str());
    }
  }
}

void CheckContributions(absl::string_view input) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(input, absl::MaxSplits('\n', 1));
  std::vector<v1::Reason> got = DecodeContributions(parts.first, parts.second);
  if (got.empty()) return;
  std::vector<std::string> pn, rn;
  std::vector<double> pv, rv;
  for (const v1::Reason& r : got) {
    FUZZ_CHECK(r.axis() == v1::AXIS_POTENTIAL ||
               r.axis() == v1::AXIS_RELATIONSHIP);
    (r.axis() == v1::AXIS_POTENTIAL ? pn : rn).push_back(r.factor());
    (r.axis() == v1::AXIS_POTENTIAL ? pv : rv).push_back(r.contribution());
  }
  std::vector<v1::Reason> again = DecodeContributions(
      EncodeFactorNames(pn, rn), EncodeContributions(pv, rv));
  FUZZ_CHECK(again.size() == got.size(), "%zu != %zu", again.size(),
             got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    FUZZ_CHECK(again[i].factor() == got[i].factor());
    FUZZ_CHECK(again[i].axis() == got[i].axis());
    // NaN is not equal to itself; its text reads back as NaN.
    FUZZ_CHECK(again[i].contribution() == got[i].contribution() ||
               (again[i].contribution() != again[i].contribution() &&
                got[i].contribution() != got[i].contribution()));
  }
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  const absl::string_view input = fuzz::Text(data, size);
  CheckDigests(FieldDigests(input));
  v1::Opportunity opp;
  if (opp.ParseFromArray(data, static_cast<int>(size))) {
    const std::string bytes = DeterministicBytes(opp);
    const std::string digests = FieldDigests(bytes);
    CheckDigests(digests);
    v1::Opportunity copy;
    FUZZ_CHECK(copy.ParseFromString(bytes));
    FUZZ_CHECK(FieldDigests(DeterministicBytes(copy)) == digests);
  }
  std::vector<std::string> names = FieldPathNames(input);
  for (size_t i = 1; i < names.size(); ++i) {
    FUZZ_CHECK(names[i - 1] < names[i]);
  }
  CheckContributions(input);
  return 0;
}
