#include "services/engine/iso_codes.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace oppmatrix {
namespace {

struct IsoCountryRow {
  const char* alpha_2;
  const char* alpha_3;
  const char* numeric;
  const char* names;  // English names, '|'-separated
};
struct IsoTranslatedName {
  const char* language;
  const char* name;
  const char* alpha_2;
};
struct IsoCurrencyRow {
  const char* alpha_3;
  const char* numeric;
  const char* name;
};

#include "services/engine/iso_tables.inc"

// Symbols and words that name exactly one currency; the ISO tables have
// codes and English names only. Ambiguous ones are kAmbiguousCurrencies.
constexpr std::pair<const char*, const char*> kCurrencySymbols[] = {
    {"€", "EUR"},    {"euros", "EUR"},  {"£", "GBP"},        {"us$", "USD"},
    {"usd$", "USD"}, {"c$", "CAD"},     {"ca$", "CAD"},      {"can$", "CAD"},
    {"a$", "AUD"},   {"au$", "AUD"},    {"nz$", "NZD"},      {"hk$", "HKD"},
    {"s$", "SGD"},   {"sg$", "SGD"},    {"r$", "BRL"},       {"mx$", "MXN"},
    {"₹", "INR"},    {"₩", "KRW"},      {"₽", "RUB"},      {"₺", "TRY"},
    {"₪", "ILS"},    {"₱", "PHP"},      {"₫", "VND"},        {"฿", "THB"},
    {"₴", "UAH"},    {"₦", "NGN"},      {"zł", "PLN"},       {"kč", "CZK"},
    {"rmb", "CNY"},  {"人民币", "CNY"}, {"元", "CNY"},       {"円", "JPY"},
    {"jp¥", "JPY"},  {"cn¥", "CNY"},    {"renminbi", "CNY"},
};

// Symbols and words several currencies use ("$": USD, CAD, AUD, MXN...).
constexpr const char* kAmbiguousCurrencies[] = {
    "$",   "¥",      "￥",      "kr", "kr.", "fr",
    "fr.", "dollar", "dollars", "rs", "rs.", "crowns"};

// Upper-case Latin-1 letters (U+00C0..U+00DE but U+00D7) to lower case, in
// UTF-8: C3 80..9E -> C3 A0..BE.
void AppendFolded(std::string& out, absl::string_view text, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  if (c == 0xC3 && i + 1 < text.size()) {
    const unsigned char next = static_cast<unsigned char>(text[i + 1]);
    out.push_back(static_cast<char>(c));
    out.push_back(static_cast<char>(
        next >= 0x80 && next <= 0x9E && next != 0x97 ? next + 0x20 : next));
    ++i;
    return;
  }
  out.push_back(static_cast<char>(c));
}

// The ASCII letters of the Latin-1 letter whose UTF-8 second byte (after
// C3) is `b`, lower case; null for the rest (×, ÷).
const char* Latin1Base(unsigned char b) {
  static const char* const kBase[64] = {
      "a",     "a",     "a", "a", "a", "a",  "ae", "c",  "e",  "e",  "e",
      "e",     "i",     "i", "i", "i", "d",  "n",  "o",  "o",  "o",  "o",
      "o",     nullptr, "o", "u", "u", "u",  "u",  "y",  "th", "ss", "a",
      "a",     "a",     "a", "a", "a", "ae", "c",  "e",  "e",  "e",  "e",
      "i",     "i",     "i", "i", "d", "n",  "o",  "o",  "o",  "o",  "o",
      nullptr, "o",     "u", "u", "u", "u",  "y",  "th", "y"};
  if (b < 0x80 || b > 0xBF) return nullptr;
  return kBase[b - 0x80];
}

// Like CountryKey, but '$' is kept: "R$" and "R" are two currencies.
std::string CurrencyKey(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      AppendFolded(out, text, i);
    } else if (absl::ascii_isalnum(c) || c == '$') {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  return out;
}

// key -> code; a key given two different codes at one precedence is
// ambiguous and removed, and no later (weaker) entry brings it back.
class KeyTable {
 public:
  // Entries of one precedence; stronger ones first.
  void AddLevel(const std::vector<std::pair<std::string, std::string>>& kv) {
    absl::flat_hash_map<std::string, std::string> level;
    absl::flat_hash_set<std::string> clashes;
    for (const auto& [key, code] : kv) {
      if (key.empty() || codes_.contains(key) || ambiguous_.contains(key)) {
        continue;
      }
      auto [it, inserted] = level.emplace(key, code);
      if (!inserted && it->second != code) clashes.insert(key);
    }
    for (auto& [key, code] : level) {
      if (clashes.contains(key)) {
        ambiguous_.insert(key);
      } else {
        codes_.emplace(key, std::move(code));
      }
    }
  }

  const std::string* Find(const std::string& key) const {
    auto it = codes_.find(key);
    return it == codes_.end() ? nullptr : &it->second;
  }
  bool Ambiguous(const std::string& key) const {
    return ambiguous_.contains(key);
  }

 private:
  absl::flat_hash_map<std::string, std::string> codes_;
  absl::flat_hash_set<std::string> ambiguous_;
};

uint32_t TypoBucket(size_t length, char byte, bool last) {
  return static_cast<uint32_t>(length) << 9 | (last ? 1u << 8 : 0u) |
         static_cast<unsigned char>(byte);
}

struct CountryTables {
  KeyTable keys;
  // Name keys (every language) of seven bytes or more, for the one-typo
  // match.
  std::vector<std::pair<std::string, std::string>> typo_candidates;
  // Candidates by (length, first byte) and (length, last byte): a key one
  // edit from a candidate of seven bytes or more shares its first or its
  // last byte, and its length is within one.
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> typo_buckets;
  // Every name key, sorted, to find names that begin with a typed text.
  std::vector<std::pair<std::string, std::string>> sorted_names;
  absl::flat_hash_set<std::string> alpha_2;
};

const CountryTables& Countries() {
  static const CountryTables* const tables = [] {
    auto* t = new CountryTables;
    std::vector<std::pair<std::string, std::string>> codes, names, short_names,
        translated;
    for (const IsoCountryRow& row : kIsoCountries) {
      t->alpha_2.insert(row.alpha_2);
      codes.emplace_back(CountryKey(row.alpha_2), row.alpha_2);
      codes.emplace_back(CountryKey(row.alpha_3), row.alpha_2);
      // Three digits only: "4" or "76" are more often something else.
      codes.emplace_back(row.numeric, row.alpha_2);
      for (absl::string_view name : absl::StrSplit(row.names, '|')) {
        names.emplace_back(CountryKey(name), row.alpha_2);
        const size_t comma = name.find(',');
        if (comma != absl::string_view::npos) {
          short_names.emplace_back(CountryKey(name.substr(0, comma)),
                                   row.alpha_2);
        }
      }
    }
    for (const IsoTranslatedName& row : kIsoCountryTranslations) {
      translated.emplace_back(CountryKey(row.name), row.alpha_2);
    }
    t->keys.AddLevel(codes);
    t->keys.AddLevel(names);
    t->keys.AddLevel(short_names);
    t->keys.AddLevel(translated);
    for (const auto& level : {names, short_names, translated}) {
      for (const auto& [key, code] : level) {
        const std::string* owner = t->keys.Find(key);
        if (owner == nullptr || *owner != code) continue;
        t->sorted_names.emplace_back(key, code);
        if (key.size() >= 7) t->typo_candidates.emplace_back(key, code);
      }
    }
    std::sort(t->sorted_names.begin(), t->sorted_names.end());
    for (uint32_t i = 0; i < t->typo_candidates.size(); ++i) {
      const std::string& key = t->typo_candidates[i].first;
      t->typo_buckets[TypoBucket(key.size(), key.front(), false)].push_back(i);
      t->typo_buckets[TypoBucket(key.size(), key.back(), true)].push_back(i);
    }
    return t;
  }();
  return *tables;
}

struct CurrencyTables {
  KeyTable keys;
  absl::flat_hash_set<std::string> alpha_3;
};

const CurrencyTables& Currencies() {
  static const CurrencyTables* const tables = [] {
    auto* t = new CurrencyTables;
    std::vector<std::pair<std::string, std::string>> codes, names, symbols;
    for (const IsoCurrencyRow& row : kIsoCurrencies) {
      t->alpha_3.insert(row.alpha_3);
      codes.emplace_back(CurrencyKey(row.alpha_3), row.alpha_3);
      if (*row.numeric != '\0') codes.emplace_back(row.numeric, row.alpha_3);
      names.emplace_back(CurrencyKey(row.name), row.alpha_3);
    }
    for (const auto& [symbol, code] : kCurrencySymbols) {
      symbols.emplace_back(CurrencyKey(symbol), code);
    }
    t->keys.AddLevel(codes);
    t->keys.AddLevel(symbols);
    t->keys.AddLevel(names);
    return t;
  }();
  return *tables;
}

// True when `a` becomes `b` by one insertion, deletion, substitution or
// swap of two neighbouring bytes.
bool OneEditApart(absl::string_view a, absl::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (i == a.size()) return true;  // one extra byte at the end, or equal
  if (a.size() == b.size()) {
    if (a.substr(i + 1) == b.substr(i + 1)) return true;  // substitution
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           a.substr(i + 2) == b.substr(i + 2);  // swap
  }
  return a.substr(i) == b.substr(i + 1);  // insertion into a
}

// What people type when there is no value, as keys (so "N/A", "n.a." and
// "NA" are one). "NA" is far more often that than Namibia (which is still
// "NAM", "516" or "Namibia").
bool IsPlaceholderKey(absl::string_view key) {
  static constexpr absl::string_view kPlaceholders[] = {
      "na",  "none", "null",          "nil",   "unknown",
      "tbd", "tba",  "notapplicable", "notset"};
  for (absl::string_view p : kPlaceholders) {
    if (key == p) return true;
  }
  return false;
}

}  // namespace

std::string CountryKey(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() > 4 && absl::EqualsIgnoreCase(text.substr(0, 4), "the ")) {
    text.remove_prefix(4);
  }
  if (text.size() > 5 &&
      absl::EqualsIgnoreCase(text.substr(text.size() - 5), ", the")) {
    text.remove_suffix(5);  // "Netherlands, The"
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xC2 && i + 1 < text.size() &&
        static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      ++i;  // a non-breaking space
    } else if (c == 0xE2 && i + 2 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) & 0xF0) == 0x90) {
      i += 2;  // U+2010..U+201F: dashes and curly quotes
    } else if (c == 0xC3 && i + 1 < text.size()) {
      // Latin-1 letters to their ASCII base: "Côte" and "Cote" are one.
      const char* base = Latin1Base(static_cast<unsigned char>(text[i + 1]));
      if (base != nullptr) {
        out.append(base);
        ++i;
      } else {
        AppendFolded(out, text, i);
      }
    } else if (c >= 0x80) {
      AppendFolded(out, text, i);
    } else if (c == '&') {
      out.append("and");
    } else if (absl::ascii_isalnum(c)) {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  return out;
}

std::optional<std::string> NormalizeCountry(
    absl::string_view text,
    const absl::flat_hash_map<std::string, std::string>* aliases) {
  const std::string key = CountryKey(text);
  if (key.empty()) return std::nullopt;
  if (aliases != nullptr) {
    if (auto it = aliases->find(key); it != aliases->end()) return it->second;
  }
  if (IsPlaceholderKey(key)) return std::nullopt;
  const CountryTables& t = Countries();
  if (const std::string* code = t.keys.Find(key)) return *code;
  if (t.keys.Ambiguous(key) || key.size() < 7) return std::nullopt;
  const std::string* found = nullptr;
  for (size_t length = key.size() - 1; length <= key.size() + 1; ++length) {
    for (bool last : {false, true}) {
      auto bucket = t.typo_buckets.find(
          TypoBucket(length, last ? key.back() : key.front(), last));
      if (bucket == t.typo_buckets.end()) continue;
      for (uint32_t i : bucket->second) {
        const auto& [candidate, code] = t.typo_candidates[i];
        if (!OneEditApart(key, candidate)) continue;
        if (found != nullptr && *found != code) return std::nullopt;
        found = &code;
      }
    }
  }
  if (found == nullptr) return std::nullopt;
  // The start of another country's name is not a typo: "Dominican" is the
  // Dominican Republic's, not one letter more than Dominica.
  for (auto it = std::lower_bound(t.sorted_names.begin(), t.sorted_names.end(),
                                  std::make_pair(key, std::string()));
       it != t.sorted_names.end() && absl::StartsWith(it->first, key); ++it) {
    if (it->second != *found) return std::nullopt;
  }
  return *found;
}

bool IsIsoCountryCode(absl::string_view alpha_2) {
  return Countries().alpha_2.contains(alpha_2);
}

std::optional<std::string> NormalizeCurrency(absl::string_view text) {
  const std::string key = CurrencyKey(text);
  if (key.empty() || IsPlaceholderKey(key)) return std::nullopt;
  if (const std::string* code = Currencies().keys.Find(key)) return *code;
  return std::nullopt;
}

bool IsAmbiguousCurrency(absl::string_view text) {
  const std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  for (const char* a : kAmbiguousCurrencies) {
    if (s == a) return true;
  }
  return false;
}

bool IsIsoCurrencyCode(absl::string_view alpha_3) {
  return Currencies().alpha_3.contains(alpha_3);
}

}  // namespace oppmatrix
