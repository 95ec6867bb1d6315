#include "services/engine/ruleset.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "services/common/file_util.h"
#include "services/common/hash_util.h"
#include "services/common/history_codec.h"
#include "services/common/status_macros.h"
#include "services/common/yaml_proto.h"
#include "services/engine/iso_codes.h"

namespace oppmatrix {
namespace {

using google::protobuf::EnumDescriptor;
using v1::Ruleset;
using v1::Signal;

enum class SignalKind { kNumeric, kEnum, kBool, kCountry };

struct SignalInfo {
  SignalKind kind;
  const EnumDescriptor* enum_type;  // for kEnum
};

SignalInfo InfoFor(Signal signal) {
  switch (signal) {
    case v1::SIGNAL_CUSTOMER_TYPE:
      return {SignalKind::kEnum, v1::CustomerType_descriptor()};
    case v1::SIGNAL_NEED_URGENCY:
      return {SignalKind::kEnum, v1::NeedUrgency_descriptor()};
    case v1::SIGNAL_BUYING_STAGE:
      return {SignalKind::kEnum, v1::BuyingStage_descriptor()};
    case v1::SIGNAL_BUDGET_STATUS:
      return {SignalKind::kEnum, v1::BudgetStatus_descriptor()};
    case v1::SIGNAL_INDUSTRY:
      return {SignalKind::kEnum, v1::Industry_descriptor()};
    case v1::SIGNAL_COUNTRY:
      return {SignalKind::kCountry, nullptr};
    case v1::SIGNAL_HAS_CHAMPION:
    case v1::SIGNAL_EXECUTIVE_SPONSOR:
    case v1::SIGNAL_EXISTING_CUSTOMER:
      return {SignalKind::kBool, nullptr};
    default:
      return {SignalKind::kNumeric, nullptr};
  }
}

std::string SignalLabel(Signal signal) {
  return absl::AsciiStrToLower(
      ShortEnumName(v1::Signal_descriptor()->FindValueByNumber(signal)));
}

// "contacts_engaged, has_champion, ... and need_urgency": SignalTimes'
// fields without "_time".
std::string DecayingSignalNames() {
  const google::protobuf::Descriptor* d = v1::SignalTimes::descriptor();
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) {
    absl::string_view name = d->field(i)->name();
    absl::ConsumeSuffix(&name, "_time");
    if (i > 0) out += i + 1 == d->field_count() ? " and " : ", ";
    absl::StrAppend(&out, name);
  }
  return out;
}

// Finds an enum value named in a ruleset map key, by its short or full name
// in any case; excludes UNSPECIFIED.
const google::protobuf::EnumValueDescriptor* FindShort(
    const EnumDescriptor* type, const std::string& name) {
  const auto* v = FindEnumValueByLooseName(type, name);
  return v != nullptr && v->number() != 0 ? v : nullptr;
}

std::string ShortNames(const EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) {
      names.push_back(ShortEnumName(type->value(i)));
    }
  }
  return absl::StrJoin(names, ", ");
}

bool IsCode(absl::string_view code) {
  if (code.empty() || code.size() > 64 || !absl::ascii_isupper(code[0])) {
    return false;
  }
  return std::all_of(code.begin(), code.end(), [](char c) {
    return absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '_';
  });
}

bool IsRulesetName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!absl::ascii_islower(name[0]) && !absl::ascii_isdigit(name[0])) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
           c == '_' || c == '-';
  });
}

// Collects "path: message" lines.
class Problems {
 public:
  void Add(absl::string_view path, absl::string_view what) {
    lines_.push_back(absl::StrCat(path, ": ", what));
  }
  // Adds a problem unless `value` is finite and inside [lo, hi].
  void CheckRange(absl::string_view path, double value, double lo, double hi) {
    if (!std::isfinite(value)) {
      Add(path, "must be finite");
    } else if (value < lo || value > hi) {
      Add(path,
          absl::StrCat("must be between ", lo, " and ", hi, ", got ", value));
    }
  }
  absl::Status ToStatus() const {
    if (lines_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n"));
  }

 private:
  std::vector<std::string> lines_;
};

void ValidateEnumKeyedMap(const google::protobuf::Map<std::string, double>& map,
                          const EnumDescriptor* type, absl::string_view path,
                          double lo, double hi, Problems& p) {
  // Sorted for a stable message order.
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  absl::flat_hash_map<int, std::string> seen;
  for (const std::string& key : keys) {
    std::string entry = absl::StrCat(path, ".", key);
    const auto* value = FindShort(type, key);
    if (value == nullptr) {
      p.Add(entry, absl::StrCat("unknown value (expected one of: ",
                                ShortNames(type), ")"));
    } else if (auto [it, inserted] = seen.emplace(value->number(), key);
               !inserted) {
      p.Add(entry,
            absl::StrCat("names the same value as ", path, ".", it->second));
    }
    p.CheckRange(entry, map.at(key), lo, hi);
  }
}

using Regions = google::protobuf::Map<std::string, v1::CountryList>;

void ValidateFactor(const v1::Factor& f, absl::string_view path,
                    const Regions& regions, Problems& p) {
  if (f.signal() == v1::SIGNAL_UNSPECIFIED) {
    p.Add(absl::StrCat(path, ".signal"), "is required");
    return;
  }
  if (!std::isfinite(f.weight())) {
    p.Add(absl::StrCat(path, ".weight"), "must be finite");
  } else if (f.weight() < 0) {
    p.Add(absl::StrCat(path, ".weight"), "must not be negative");
  }
  if (f.has_missing()) {
    p.CheckRange(absl::StrCat(path, ".missing"), f.missing(), 0, 1);
  }
  if (f.half_life_days() != 0) {
    const std::string field = absl::StrCat(path, ".half_life_days");
    p.CheckRange(field, f.half_life_days(), 0, kMaxHalfLifeDays);
    if (SignalTimeField(f.signal()) == nullptr) {
      p.Add(field, absl::StrCat("the signal ", SignalLabel(f.signal()),
                                " does not decay; only ", DecayingSignalNames(),
                                " can"));
    }
  }
  SignalInfo info = InfoFor(f.signal());
  std::string label = SignalLabel(f.signal());
  if (info.kind == SignalKind::kNumeric) {
    if (!f.values().empty()) {
      p.Add(absl::StrCat(path, ".values"),
            absl::StrCat("not allowed for the numeric signal ", label,
                         ": use curve"));
    }
    if (f.curve().empty()) {
      p.Add(absl::StrCat(path, ".curve"),
            absl::StrCat("the numeric signal ", label, " needs a curve"));
    }
    for (int i = 0; i < f.curve_size(); ++i) {
      std::string point = absl::StrCat(path, ".curve[", i, "]");
      const v1::CurvePoint& c = f.curve(i);
      if (!std::isfinite(c.at())) {
        p.Add(absl::StrCat(point, ".at"), "must be finite");
      } else if (i > 0 && std::isfinite(f.curve(i - 1).at()) &&
                 c.at() <= f.curve(i - 1).at()) {
        p.Add(absl::StrCat(point, ".at"),
              absl::StrCat("must be greater than the previous point's (",
                           f.curve(i - 1).at(), ")"));
      }
      p.CheckRange(absl::StrCat(point, ".score"), c.score(), 0, 1);
    }
    return;
  }
  if (!f.curve().empty()) {
    p.Add(absl::StrCat(path, ".curve"),
          absl::StrCat("not allowed for the categorical signal ", label,
                       ": use values"));
  }
  if (f.values().empty()) {
    p.Add(absl::StrCat(path, ".values"),
          absl::StrCat("the categorical signal ", label, " needs values"));
  }
  if (info.kind == SignalKind::kEnum) {
    ValidateEnumKeyedMap(f.values(), info.enum_type,
                         absl::StrCat(path, ".values"), 0, 1, p);
  } else if (info.kind == SignalKind::kCountry) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : f.values()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      std::string entry = absl::StrCat(path, ".values.", key);
      if (!IsIsoCountryCode(key) && !regions.contains(key)) {
        p.Add(entry,
              "is neither an ISO 3166-1 alpha-2 code nor one of the "
              "ruleset's country_regions");
      }
      p.CheckRange(entry, f.values().at(key), 0, 1);
    }
  } else {
    std::vector<std::string> keys;
    for (const auto& [key, value] : f.values()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      std::string entry = absl::StrCat(path, ".values.", key);
      if (key != "true" && key != "false") {
        p.Add(entry, "unknown value (expected one of: true, false)");
      }
      p.CheckRange(entry, f.values().at(key), 0, 1);
    }
  }
}

void ValidateAxis(const v1::ScoreAxis& axis, absl::string_view path,
                  const Regions& regions, Problems& p) {
  if (axis.factors().empty()) {
    p.Add(absl::StrCat(path, ".factors"), "needs at least one factor");
    return;
  }
  double total = 0;
  absl::flat_hash_map<int, int> seen;
  for (int i = 0; i < axis.factors_size(); ++i) {
    const v1::Factor& f = axis.factors(i);
    std::string fpath = absl::StrCat(path, ".factors[", i, "]");
    ValidateFactor(f, fpath, regions, p);
    if (f.signal() != v1::SIGNAL_UNSPECIFIED) {
      auto [it, inserted] = seen.emplace(f.signal(), i);
      if (!inserted) {
        p.Add(absl::StrCat(fpath, ".signal"),
              absl::StrCat(SignalLabel(f.signal()), " is already used by ",
                           path, ".factors[", it->second, "]"));
      }
    }
    if (std::isfinite(f.weight()) && f.weight() > 0) total += f.weight();
  }
  if (total <= 0) {
    p.Add(absl::StrCat(path, ".factors"),
          "at least one factor needs a positive weight");
  }
}

// Checks alias tables; `implicit` are the enum short names, always aliases.
template <typename Entry, typename Getter>
void ValidateAliases(const google::protobuf::RepeatedPtrField<Entry>& entries,
                     absl::string_view path, absl::string_view enum_field,
                     const EnumDescriptor* type, Getter get_enum, Problems& p) {
  // normalised alias -> (where it was defined, enum short name)
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> owner;
  for (int i = 0; i < type->value_count(); ++i) {
    const auto* v = type->value(i);
    if (v->number() == 0) continue;
    owner[NormalizeAlias(ShortEnumName(v))] = {
        absl::StrCat("the name of ", ShortEnumName(v)), ShortEnumName(v)};
  }
  for (int i = 0; i < entries.size(); ++i) {
    const Entry& e = entries.Get(i);
    std::string epath = absl::StrCat(path, "[", i, "]");
    int number = get_enum(e);
    if (number == 0) {
      p.Add(absl::StrCat(epath, ".", enum_field), "is required");
      continue;
    }
    std::string target = ShortEnumName(type->FindValueByNumber(number));
    for (int j = 0; j < e.aliases_size(); ++j) {
      std::string apath = absl::StrCat(epath, ".aliases[", j, "]");
      const std::string& alias = e.aliases(j);
      std::string key = NormalizeAlias(alias);
      if (key.empty()) {
        p.Add(apath,
              absl::StrCat("alias \"", alias, "\" has no letters or digits"));
        continue;
      }
      if (alias.size() > 128) {
        p.Add(apath, "must be at most 128 bytes");
        continue;
      }
      auto [it, inserted] = owner.emplace(key, std::make_pair(apath, target));
      if (!inserted) {
        p.Add(apath, absl::StrCat("alias \"", alias, "\" for ", target,
                                  " collides with ", it->second.first, " (",
                                  it->second.second, ")"));
      }
    }
  }
}

void ValidateMatrix(const v1::MatrixRules& m, Problems& p) {
  auto check_thresholds = [&p](const google::protobuf::RepeatedField<double>& t,
                               absl::string_view path) {
    if (t.size() + 1 > kMaxMatrixBands) {
      p.Add(path, absl::StrCat("at most ", kMaxMatrixBands - 1, " cut points"));
    }
    for (int i = 0; i < t.size(); ++i) {
      std::string tpath = absl::StrCat(path, "[", i, "]");
      if (!std::isfinite(t.Get(i))) {
        p.Add(tpath, "must be finite");
      } else if (t.Get(i) <= 0 || t.Get(i) >= 100) {
        p.Add(tpath, absl::StrCat("must be between 0 and 100 (exclusive), got ",
                                  t.Get(i)));
      } else if (i > 0 && t.Get(i) <= t.Get(i - 1)) {
        p.Add(tpath, absl::StrCat("must be greater than the previous cut (",
                                  t.Get(i - 1), ")"));
      }
    }
  };
  check_thresholds(m.potential_thresholds(), "matrix.potential_thresholds");
  check_thresholds(m.relationship_thresholds(),
                   "matrix.relationship_thresholds");
  const int pbands = m.potential_thresholds_size() + 1;
  const int rbands = m.relationship_thresholds_size() + 1;
  if (m.cells().empty()) {
    p.Add("matrix.cells", "needs at least one cell");
    return;
  }
  absl::flat_hash_map<std::string, int> ids;
  absl::flat_hash_map<int, int> by_band;
  auto check_action = [&p](const v1::Action& a, absl::string_view path) {
    if (a.code().empty() && a.playbook().empty()) {
      p.Add(path,
            "is required: every cell needs an action with a code and "
            "a playbook");
      return;
    }
    if (!IsCode(a.code())) {
      p.Add(absl::StrCat(path, ".code"),
            absl::StrCat("must be upper-case letters, digits and '_', got \"",
                         a.code(), "\""));
    }
    if (a.playbook().empty()) {
      p.Add(absl::StrCat(path, ".playbook"), "is required");
    }
  };
  for (int i = 0; i < m.cells_size(); ++i) {
    const v1::Cell& c = m.cells(i);
    std::string cpath = absl::StrCat("matrix.cells[", i, "]");
    if (!IsCode(c.id())) {
      p.Add(absl::StrCat(cpath, ".id"),
            absl::StrCat("must be upper-case letters, digits and '_', got \"",
                         c.id(), "\""));
    } else if (auto [it, inserted] = ids.emplace(c.id(), i); !inserted) {
      p.Add(absl::StrCat(cpath, ".id"),
            absl::StrCat("\"", c.id(), "\" is already used by matrix.cells[",
                         it->second, "]"));
    }
    bool bands_ok = true;
    if (c.potential_band() < 0 || c.potential_band() >= pbands) {
      p.Add(absl::StrCat(cpath, ".potential_band"),
            absl::StrCat("must be between 0 and ", pbands - 1, ", got ",
                         c.potential_band()));
      bands_ok = false;
    }
    if (c.relationship_band() < 0 || c.relationship_band() >= rbands) {
      p.Add(absl::StrCat(cpath, ".relationship_band"),
            absl::StrCat("must be between 0 and ", rbands - 1, ", got ",
                         c.relationship_band()));
      bands_ok = false;
    }
    if (bands_ok) {
      int key = c.potential_band() * rbands + c.relationship_band();
      if (auto [it, inserted] = by_band.emplace(key, i); !inserted) {
        p.Add(cpath,
              absl::StrCat("potential_band ", c.potential_band(),
                           ", relationship_band ", c.relationship_band(),
                           " is already matrix.cells[", it->second, "]"));
      }
    }
    check_action(c.action(), absl::StrCat(cpath, ".action"));
    for (int j = 0; j < c.refinements_size(); ++j) {
      const v1::ActionRefinement& r = c.refinements(j);
      std::string rpath = absl::StrCat(cpath, ".refinements[", j, "]");
      if (r.customer_type() == v1::CUSTOMER_TYPE_UNSPECIFIED &&
          r.value_tier() == v1::VALUE_TIER_UNSPECIFIED) {
        p.Add(rpath, "needs customer_type or value_tier");
      }
      check_action(r.action(), absl::StrCat(rpath, ".action"));
    }
  }
  for (int pb = 0; pb < pbands; ++pb) {
    for (int rb = 0; rb < rbands; ++rb) {
      if (!by_band.contains(pb * rbands + rb)) {
        p.Add("matrix.cells", absl::StrCat("no cell for potential_band ", pb,
                                           ", relationship_band ", rb));
      }
    }
  }
}

CompiledFactor CompileFactor(const v1::Factor& f, const Regions& regions) {
  CompiledFactor out;
  out.signal = f.signal();
  out.weight = f.weight();
  out.label = f.label().empty() ? SignalLabel(f.signal()) : f.label();
  out.missing = f.has_missing() ? f.missing() : 0.0;
  if (f.half_life_days() > 0) {
    out.half_life_days = f.half_life_days();
    out.decay_time = SignalTimeField(f.signal());
  }
  for (const v1::CurvePoint& c : f.curve()) {
    out.curve.emplace_back(c.at(), c.score());
  }
  SignalInfo info = InfoFor(f.signal());
  if (info.kind == SignalKind::kEnum) {
    int max = 0;
    for (int i = 0; i < info.enum_type->value_count(); ++i) {
      max = std::max(max, info.enum_type->value(i)->number());
    }
    out.by_value.assign(max + 1, 0.0);
    out.value_names.assign(max + 1, "");
    for (int i = 0; i < info.enum_type->value_count(); ++i) {
      const auto* v = info.enum_type->value(i);
      out.value_names[v->number()] = ShortEnumName(v);
    }
    for (const auto& [key, value] : f.values()) {
      out.by_value[FindShort(info.enum_type, key)->number()] = value;
    }
  } else if (info.kind == SignalKind::kCountry) {
    // Regions first, the higher value for a country in two of them; then
    // the codes' own entries, which win.
    for (const auto& [key, value] : f.values()) {
      auto region = regions.find(key);
      if (region == regions.end()) continue;
      for (const std::string& code : region->second.codes()) {
        auto [it, inserted] = out.by_country.emplace(code, value);
        if (!inserted) it->second = std::max(it->second, value);
      }
    }
    for (const auto& [key, value] : f.values()) {
      if (!regions.contains(key)) out.by_country[key] = value;
    }
  } else if (info.kind == SignalKind::kBool) {
    out.by_value.assign(2, 0.0);
    for (const auto& [key, value] : f.values()) {
      out.by_value[key == "true" ? 1 : 0] = value;
    }
  }
  return out;
}

CompiledAxis CompileAxis(const v1::ScoreAxis& axis, const Regions& regions) {
  CompiledAxis out;
  for (const v1::Factor& f : axis.factors()) {
    out.factors.push_back(CompileFactor(f, regions));
    out.total_weight += f.weight();
  }
  return out;
}

template <typename E>
std::vector<double> BonusTable(
    const google::protobuf::Map<std::string, double>& map,
    const EnumDescriptor* type) {
  std::vector<double> out(type->value_count() + 1, 0.0);
  for (const auto& [key, value] : map) {
    int n = FindShort(type, key)->number();
    if (n >= static_cast<int>(out.size())) out.resize(n + 1, 0.0);
    out[n] = value;
  }
  return out;
}

}  // namespace

std::string NormalizeAlias(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80 || absl::ascii_isdigit(u)) {
      out.push_back(c);
    } else if (absl::ascii_isalpha(u)) {
      out.push_back(absl::ascii_tolower(u));
    }
  }
  return out;
}

v1::BuyingStage CompiledRuleset::LookupStage(
    absl::string_view crm_stage) const {
  auto it = stages.find(NormalizeAlias(crm_stage));
  return it == stages.end() ? v1::BUYING_STAGE_UNSPECIFIED : it->second;
}

v1::Industry CompiledRuleset::LookupIndustry(
    absl::string_view crm_industry) const {
  auto it = industries.find(NormalizeAlias(crm_industry));
  return it == industries.end() ? v1::INDUSTRY_UNSPECIFIED : it->second;
}

std::optional<std::string> CompiledRuleset::LookupCountry(
    absl::string_view crm_country) const {
  return NormalizeCountry(crm_country, &countries);
}

std::optional<double> CompiledRuleset::ToBaseCurrency(
    const google::type::Money& money) const {
  double amount = static_cast<double>(money.units()) + money.nanos() * 1e-9;
  // The common case first: already the base currency's code.
  if (money.currency_code() == proto.base_currency()) return amount;
  std::optional<std::string> code = NormalizeCurrency(money.currency_code());
  if (!code.has_value()) return std::nullopt;
  if (*code == proto.base_currency()) return amount;
  auto it = proto.currency_rates().find(*code);
  if (it == proto.currency_rates().end()) return std::nullopt;
  return amount * it->second;
}

const google::protobuf::FieldDescriptor* SignalTimeField(v1::Signal signal) {
  if (signal == v1::SIGNAL_UNSPECIFIED ||
      v1::Signal_descriptor()->FindValueByNumber(signal) == nullptr) {
    return nullptr;
  }
  return v1::SignalTimes::descriptor()->FindFieldByName(
      absl::StrCat(SignalLabel(signal), "_time"));
}

const v1::Cell* CompiledRuleset::CellAt(double potential,
                                        double relationship) const {
  const int pband = Band(potential, proto.matrix().potential_thresholds());
  const int rband =
      Band(relationship, proto.matrix().relationship_thresholds());
  return cells[pband * relationship_bands + rband];
}

int CompiledRuleset::Band(
    double score, const google::protobuf::RepeatedField<double>& thresholds) {
  int band = 0;
  for (double t : thresholds) {
    if (score >= t) ++band;
  }
  return band;
}

absl::StatusOr<Ruleset> ParseRulesetYaml(absl::string_view yaml) {
  Ruleset rules;
  OPPMATRIX_RETURN_IF_ERROR(ParseYamlToMessage(yaml, &rules));
  return rules;
}

namespace {

// Each alias has letters or digits and one alpha-2 code; two aliases with
// one key (after CountryKey) must agree.
void ValidateCountryAliases(
    const google::protobuf::Map<std::string, std::string>& aliases,
    Problems& p) {
  std::vector<std::string> names;
  for (const auto& [alias, code] : aliases) names.push_back(alias);
  std::sort(names.begin(), names.end());
  absl::flat_hash_map<std::string, std::string> owner;  // key -> alias
  for (const std::string& alias : names) {
    const std::string& code = aliases.at(alias);
    const std::string path = absl::StrCat("country_aliases.", alias);
    const std::string key = CountryKey(alias);
    if (key.empty()) {
      p.Add(path, "has no letters or digits");
      continue;
    }
    if (alias.size() > 128) {
      p.Add(path, "must be at most 128 bytes");
      continue;
    }
    if (!IsIsoCountryCode(code)) {
      p.Add(path, absl::StrCat("must be an ISO 3166-1 alpha-2 code such as "
                               "GB, got \"",
                               code, "\""));
      continue;
    }
    auto [it, inserted] = owner.emplace(key, alias);
    if (!inserted && aliases.at(it->second) != code) {
      p.Add(path, absl::StrCat("is the same name as \"", it->second,
                               "\", which means ", aliases.at(it->second)));
    }
  }
}

// Region names are codes ([A-Z][A-Z0-9_]*); each lists alpha-2 codes.
void ValidateCountryRegions(const Regions& regions, Problems& p) {
  std::vector<std::string> names;
  for (const auto& [name, list] : regions) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = absl::StrCat("country_regions.", name);
    if (!IsCode(name)) {
      p.Add(path,
            "the name must be upper-case letters, digits and '_', "
            "starting with a letter, at most 64 bytes");
    }
    if (IsIsoCountryCode(name)) {
      p.Add(path, "the name is a country's code");
    }
    const v1::CountryList& list = regions.at(name);
    if (list.codes().empty()) p.Add(path, "lists no countries");
    for (int i = 0; i < list.codes_size(); ++i) {
      if (!IsIsoCountryCode(list.codes(i))) {
        p.Add(absl::StrCat(path, ".codes[", i, "]"),
              absl::StrCat("\"", list.codes(i),
                           "\" is not an ISO 3166-1 alpha-2 code"));
      }
    }
  }
}

}  // namespace

absl::Status ValidateRuleset(const Ruleset& r) {
  Problems p;
  if (!IsRulesetName(r.name())) {
    p.Add("name", absl::StrCat("must match [a-z0-9][a-z0-9._-]* and be at "
                               "most 64 bytes, got \"",
                               r.name(), "\""));
  }
  if (!IsIsoCurrencyCode(r.base_currency())) {
    p.Add("base_currency",
          absl::StrCat("must be an ISO 4217 currency code such as USD, "
                       "got \"",
                       r.base_currency(), "\""));
  }
  {
    std::vector<std::string> keys;
    for (const auto& [key, value] : r.currency_rates()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      std::string path = absl::StrCat("currency_rates.", key);
      double rate = r.currency_rates().at(key);
      if (!IsIsoCurrencyCode(key)) {
        p.Add(path, "must be an ISO 4217 currency code such as EUR");
      }
      if (!std::isfinite(rate)) {
        p.Add(path, "must be finite");
      } else if (rate <= 0) {
        p.Add(path, "must be positive");
      }
    }
  }
  for (int i = 0; i < r.customer_type().by_size_size(); ++i) {
    const v1::SizeRule& s = r.customer_type().by_size(i);
    std::string path = absl::StrCat("customer_type.by_size[", i, "]");
    if (s.type() == v1::CUSTOMER_TYPE_UNSPECIFIED) {
      p.Add(absl::StrCat(path, ".type"), "is required");
    }
    if (s.min_employees() < 0) {
      p.Add(absl::StrCat(path, ".min_employees"), "must not be negative");
    }
    if (!std::isfinite(s.min_annual_revenue())) {
      p.Add(absl::StrCat(path, ".min_annual_revenue"), "must be finite");
    } else if (s.min_annual_revenue() < 0) {
      p.Add(absl::StrCat(path, ".min_annual_revenue"), "must not be negative");
    }
    if (s.min_employees() == 0 && s.min_annual_revenue() == 0) {
      p.Add(path, "needs min_employees or min_annual_revenue");
    }
  }
  ValidateCountryRegions(r.country_regions(), p);
  ValidateAxis(r.potential(), "potential", r.country_regions(), p);
  ValidateAxis(r.relationship(), "relationship", r.country_regions(), p);

  const v1::ValueTierRules& vt = r.value_tier();
  p.CheckRange("value_tier.high_min", vt.high_min(), 0, 100);
  p.CheckRange("value_tier.medium_min", vt.medium_min(), 0, 100);
  if (std::isfinite(vt.high_min()) && std::isfinite(vt.medium_min()) &&
      !(0 < vt.medium_min() && vt.medium_min() < vt.high_min())) {
    p.Add("value_tier", "needs 0 < medium_min < high_min <= 100");
  }
  const v1::UrgencyRules& u = r.urgency();
  if (!(0 < u.urgent_within_days() &&
        u.urgent_within_days() < u.general_within_days())) {
    p.Add("urgency", "needs 0 < urgent_within_days < general_within_days");
  }
  ValidateAliases(
      r.stages(), "stages", "stage", v1::BuyingStage_descriptor(),
      [](const v1::StageAliases& e) { return e.stage(); }, p);
  ValidateAliases(
      r.industries(), "industries", "industry", v1::Industry_descriptor(),
      [](const v1::IndustryAliases& e) { return e.industry(); }, p);
  ValidateCountryAliases(r.country_aliases(), p);

  const v1::PriorityRules& pr = r.priority();
  for (auto [path, weight] :
       {std::pair<const char*, double>{"priority.potential_weight",
                                       pr.potential_weight()},
        {"priority.relationship_weight", pr.relationship_weight()}}) {
    if (!std::isfinite(weight)) {
      p.Add(path, "must be finite");
    } else if (weight < 0) {
      p.Add(path, "must not be negative");
    }
  }
  if (!(pr.potential_weight() + pr.relationship_weight() > 0)) {
    p.Add("priority",
          "potential_weight + relationship_weight must be positive");
  }
  ValidateEnumKeyedMap(pr.urgency_bonus(), v1::NeedUrgency_descriptor(),
                       "priority.urgency_bonus", -100, 100, p);
  ValidateEnumKeyedMap(pr.stage_bonus(), v1::BuyingStage_descriptor(),
                       "priority.stage_bonus", -100, 100, p);

  const v1::GradeRules& g = r.grade();
  p.CheckRange("grade.a_min", g.a_min(), 0, 100);
  p.CheckRange("grade.b_min", g.b_min(), 0, 100);
  p.CheckRange("grade.c_min", g.c_min(), 0, 100);
  if (std::isfinite(g.a_min()) && std::isfinite(g.b_min()) &&
      std::isfinite(g.c_min()) &&
      !(0 < g.c_min() && g.c_min() < g.b_min() && g.b_min() < g.a_min())) {
    p.Add("grade", "needs 0 < c_min < b_min < a_min <= 100");
  }
  ValidateMatrix(r.matrix(), p);
  if (r.explain().max_reasons() < 1 || r.explain().max_reasons() > 32) {
    p.Add("explain.max_reasons", absl::StrCat("must be between 1 and 32, got ",
                                              r.explain().max_reasons()));
  }
  return p.ToStatus();
}

std::string RulesetVersion(const Ruleset& rules) {
  return absl::StrCat(rules.name(), "@",
                      Sha256Hex(DeterministicBytes(rules)).substr(0, 12));
}

absl::StatusOr<std::shared_ptr<const CompiledRuleset>> CompileRuleset(
    Ruleset rules) {
  OPPMATRIX_RETURN_IF_ERROR(ValidateRuleset(rules));
  auto out = std::make_shared<CompiledRuleset>();
  out->proto = std::move(rules);
  const Ruleset& r = out->proto;
  out->version = RulesetVersion(r);
  out->potential = CompileAxis(r.potential(), r.country_regions());
  out->relationship = CompileAxis(r.relationship(), r.country_regions());
  {
    std::vector<std::string> p, q;
    for (const CompiledFactor& f : out->potential.factors) p.push_back(f.label);
    for (const CompiledFactor& f : out->relationship.factors) {
      q.push_back(f.label);
    }
    out->factor_names = EncodeFactorNames(p, q);
  }
  for (int i = 1; i < v1::BuyingStage_descriptor()->value_count(); ++i) {
    const auto* v = v1::BuyingStage_descriptor()->value(i);
    out->stages[NormalizeAlias(ShortEnumName(v))] =
        static_cast<v1::BuyingStage>(v->number());
  }
  for (const v1::StageAliases& e : r.stages()) {
    for (const std::string& a : e.aliases()) {
      out->stages[NormalizeAlias(a)] = e.stage();
    }
  }
  for (int i = 1; i < v1::Industry_descriptor()->value_count(); ++i) {
    const auto* v = v1::Industry_descriptor()->value(i);
    out->industries[NormalizeAlias(ShortEnumName(v))] =
        static_cast<v1::Industry>(v->number());
  }
  for (const v1::IndustryAliases& e : r.industries()) {
    for (const std::string& a : e.aliases()) {
      out->industries[NormalizeAlias(a)] = e.industry();
    }
  }
  for (const auto& [alias, code] : r.country_aliases()) {
    out->countries[CountryKey(alias)] = code;
  }
  out->urgency_bonus = BonusTable<v1::NeedUrgency>(
      r.priority().urgency_bonus(), v1::NeedUrgency_descriptor());
  out->stage_bonus = BonusTable<v1::BuyingStage>(r.priority().stage_bonus(),
                                                 v1::BuyingStage_descriptor());
  out->priority_potential_share =
      r.priority().potential_weight() /
      (r.priority().potential_weight() + r.priority().relationship_weight());
  out->potential_bands = r.matrix().potential_thresholds_size() + 1;
  out->relationship_bands = r.matrix().relationship_thresholds_size() + 1;
  out->cells.assign(out->potential_bands * out->relationship_bands, nullptr);
  for (const v1::Cell& c : r.matrix().cells()) {
    out->cells[c.potential_band() * out->relationship_bands +
               c.relationship_band()] = &c;
  }
  return std::shared_ptr<const CompiledRuleset>(std::move(out));
}

absl::StatusOr<std::shared_ptr<const CompiledRuleset>> LoadRulesetYaml(
    absl::string_view yaml) {
  OPPMATRIX_ASSIGN_OR_RETURN(Ruleset rules, ParseRulesetYaml(yaml));
  return CompileRuleset(std::move(rules));
}

absl::StatusOr<std::shared_ptr<const CompiledRuleset>> LoadRulesetFile(
    const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadFileToString(path, kMaxRulesetFileBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(*text);
  if (!rules.ok()) {
    return absl::Status(rules.status().code(),
                        absl::StrCat(path, ": ", rules.status().message()));
  }
  return rules;
}

}  // namespace oppmatrix
