#include "services/common/history_codec.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kFnvOffset = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;

uint32_t Fnv(uint32_t h, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// Adds each field of `bytes` (one message) to `out` under `prefix` and its
// number; the fields numbered in `nested` are messages whose own fields
// count one by one. Stops at the first byte that does not parse.
void Digest(absl::string_view bytes, const std::string& prefix,
            absl::Span<const int> skip, absl::Span<const int> nested,
            std::map<std::string, uint32_t>& out) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  while (true) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return;
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const bool is_nested =
        std::find(nested.begin(), nested.end(), number) != nested.end() &&
        WireFormatLite::GetTagWireType(tag) ==
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (is_nested) {
      uint32_t length = 0;
      std::string inner;
      if (!in.ReadVarint32(&length) ||
          !in.ReadString(&inner, static_cast<int>(length))) {
        return;
      }
      Digest(inner, absl::StrCat(prefix, number, "."), {}, {}, out);
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return;
    if (std::find(skip.begin(), skip.end(), number) != skip.end()) continue;
    auto [it, added] =
        out.try_emplace(absl::StrCat(prefix, number), kFnvOffset);
    it->second =
        Fnv(it->second, bytes.substr(start, in.CurrentPosition() - start));
  }
}

// '%', ',', ';', '|' and control characters as %XX, so a label can sit in
// a list and a history line.
std::string EscapeName(absl::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (c == '%' || c == ',' || c == ';' || c == '|' || c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "%%%02X", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool UnescapeName(absl::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= text.size()) return false;
    auto [end, ec] =
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

std::string Number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end)
                           : absl::StrFormat("%.17g", v);
}

// "a,b;c,d" as its two lists; false unless there is exactly one ';'.
bool SplitAxes(absl::string_view text, std::vector<absl::string_view>* p,
               std::vector<absl::string_view>* r) {
  std::vector<absl::string_view> axes = absl::StrSplit(text, ';');
  if (axes.size() != 2) return false;
  *p = absl::StrSplit(axes[0], ',', absl::SkipEmpty());
  *r = absl::StrSplit(axes[1], ',', absl::SkipEmpty());
  return true;
}

}  // namespace

std::string FieldDigests(absl::string_view opportunity_bytes) {
  std::map<std::string, uint32_t> digests;
  Digest(
      opportunity_bytes, "",
      {v1::Opportunity::kIdFieldNumber, v1::Opportunity::kTenantIdFieldNumber,
       v1::Opportunity::kVersionFieldNumber},
      {v1::Opportunity::kAccountFieldNumber,
       v1::Opportunity::kRelationshipFieldNumber},
      digests);
  std::string out;
  for (const auto& [path, h] : digests) {
    if (!out.empty()) out.push_back(';');
    const char raw[4] = {static_cast<char>(h >> 24), static_cast<char>(h >> 16),
                         static_cast<char>(h >> 8), static_cast<char>(h)};
    absl::StrAppend(&out, path, ":",
                    absl::WebSafeBase64Escape(absl::string_view(raw, 4)));
  }
  return out;
}

std::vector<std::string> FieldPathNames(absl::string_view numbers) {
  std::vector<std::string> out;
  const google::protobuf::Descriptor* root = v1::Opportunity::descriptor();
  for (absl::string_view path :
       absl::StrSplit(numbers, ',', absl::SkipEmpty())) {
    const google::protobuf::Descriptor* d = root;
    std::string name;
    bool known = true;
    for (absl::string_view part : absl::StrSplit(path, '.')) {
      int n = 0;
      const FieldDescriptor* f = nullptr;
      if (d != nullptr && absl::SimpleAtoi(part, &n)) {
        f = d->FindFieldByNumber(n);
      }
      if (f == nullptr) {
        known = false;
        break;
      }
      absl::StrAppend(&name, name.empty() ? "" : ".", f->name());
      d = f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_map()
              ? f->message_type()
              : nullptr;
    }
    out.push_back(known ? name : absl::StrCat("#", path));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string EncodeContributions(absl::Span<const double> potential,
                                absl::Span<const double> relationship) {
  std::string out;
  out.reserve(6 * (potential.size() + relationship.size()) + 1);
  for (size_t i = 0; i < potential.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += Number(potential[i]);
  }
  out.push_back(';');
  for (size_t i = 0; i < relationship.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += Number(relationship[i]);
  }
  return out;
}

std::string EncodeFactorNames(absl::Span<const std::string> potential,
                              absl::Span<const std::string> relationship) {
  auto escaped = [](std::string* out, const std::string& name) {
    out->append(EscapeName(name));
  };
  return absl::StrCat(absl::StrJoin(potential, ",", escaped), ";",
                      absl::StrJoin(relationship, ",", escaped));
}

std::vector<v1::Reason> DecodeContributions(absl::string_view names,
                                            absl::string_view contributions) {
  std::vector<absl::string_view> np, nr, cp, cr;
  if (!SplitAxes(names, &np, &nr) || !SplitAxes(contributions, &cp, &cr) ||
      np.size() != cp.size() || nr.size() != cr.size()) {
    return {};
  }
  std::vector<v1::Reason> out;
  out.reserve(np.size() + nr.size());
  auto add = [&](absl::string_view name, absl::string_view value,
                 v1::Axis axis) {
    double points = 0;
    std::string label;
    if (!absl::SimpleAtod(value, &points) || !UnescapeName(name, &label)) {
      return false;
    }
    v1::Reason& r = out.emplace_back();
    r.set_factor(std::move(label));
    r.set_axis(axis);
    r.set_contribution(points);
    return true;
  };
  for (size_t i = 0; i < np.size(); ++i) {
    if (!add(np[i], cp[i], v1::AXIS_POTENTIAL)) return {};
  }
  for (size_t i = 0; i < nr.size(); ++i) {
    if (!add(nr[i], cr[i], v1::AXIS_RELATIONSHIP)) return {};
  }
  return out;
}

}  // namespace oppmatrix
