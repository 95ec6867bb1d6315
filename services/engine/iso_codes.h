// Countries (ISO 3166-1) and currencies (ISO 4217) as CRMs write them,
// normalised to their codes. The tables are generated at build time from
// Debian's iso-codes package (gen_iso_tables.py): codes, English names and
// the names in about forty languages. Pure lookups, no I/O.
//
// A country is recognised from its alpha-2, alpha-3 or numeric code, its
// English name, official name or common name, the part of a name before a
// comma ("Iran" for "Iran, Islamic Republic of"), its name in one of the
// tables' languages ("Deutschland", "日本"), whatever the case, spacing
// and punctuation ("U.S.", "usa", "The Netherlands"), and with one typo
// in a name of seven letters or more ("Philipines") when only one country
// is that close. A name that means two countries is not guessed, and
// neither are placeholders: "N/A", "NA", "none", "unknown", "-" (Namibia
// is "NAM", "516" or its name).
//
// A currency is recognised from its code in any case ("usd"), its numeric
// code, its English name ("Euro", "US Dollar") and the common symbols that
// name one currency ("€", "US$", "R$", "₹"); "$", "¥" and "kr" name
// several and are not guessed.
//
//   NormalizeCountry(" united states of america ")  // "US"
//   NormalizeCountry("Deutschland")                 // "DE"
//   NormalizeCurrency("US$")                        // "USD"
#ifndef OPPMATRIX_SERVICES_ENGINE_ISO_CODES_H_
#define OPPMATRIX_SERVICES_ENGINE_ISO_CODES_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

// The ISO 3166-1 alpha-2 code of `text`; nullopt when it names no country
// or more than one. `aliases` (CountryKey -> alpha-2, e.g. a ruleset's)
// are looked up first, under the same key.
std::optional<std::string> NormalizeCountry(
    absl::string_view text,
    const absl::flat_hash_map<std::string, std::string>* aliases = nullptr);

// True for an ISO 3166-1 alpha-2 code (upper case), e.g. "DE".
bool IsIsoCountryCode(absl::string_view alpha_2);

// The ISO 4217 code of `text`; nullopt when it names no currency or more
// than one.
std::optional<std::string> NormalizeCurrency(absl::string_view text);

// True for a symbol or word several currencies use, which
// NormalizeCurrency does not guess: "$", "¥", "kr", "dollar", ...
bool IsAmbiguousCurrency(absl::string_view text);

// True for an ISO 4217 alphabetic code (upper case), e.g. "EUR".
bool IsIsoCurrencyCode(absl::string_view alpha_3);

// The key names are compared by: ASCII letters in lower case, digits, and
// every non-ASCII character (upper-case Latin-1 letters folded to lower
// case); spaces, punctuation and a leading "the" dropped. So "U.S." and
// "us", "Côte d'Ivoire" and "CÔTE D IVOIRE" have one key.
std::string CountryKey(absl::string_view text);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_ISO_CODES_H_
