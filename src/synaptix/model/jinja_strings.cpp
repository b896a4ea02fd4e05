#include "synaptix/model/jinja_strings.h"

#include <utf8proc.h>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {
namespace {

// Python's str.isspace() set.
bool is_py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_cased_letter(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

char32_t upper(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }
char32_t lower(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }

}  // namespace

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, StripSide side) {
  std::u32string cps = utf8_decode(s);
  std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : is_py_space(c); };
  size_t b = 0, e = cps.size();
  if (side != StripSide::Right) {
    while (b < e && strip_it(cps[b])) ++b;
  }
  if (side != StripSide::Left) {
    while (e > b && strip_it(cps[e - 1])) --e;
  }
  return utf8_encode(std::u32string_view(cps).substr(b, e - b));
}

std::string py_upper(std::string_view s) {
  std::u32string cps = utf8_decode(s);
  for (auto& c : cps) c = upper(c);
  return utf8_encode(cps);
}

std::string py_lower(std::string_view s) {
  std::u32string cps = utf8_decode(s);
  for (auto& c : cps) c = lower(c);
  return utf8_encode(cps);
}

std::string py_capitalize(std::string_view s) {
  std::u32string cps = utf8_decode(s);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? upper(cps[i]) : lower(cps[i]);
  return utf8_encode(cps);
}

std::string py_title(std::string_view s) {
  std::u32string cps = utf8_decode(s);
  bool prev_cased = false;
  for (auto& c : cps) {
    bool cased = is_cased_letter(c);
    if (cased) c = prev_cased ? lower(c) : static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
    prev_cased = cased;
  }
  return utf8_encode(cps);
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail("str.split: empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t at = find_substring(s, *sep, start);
      if (at == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, at - start));
      check_list_size(parts.size(), "a split string");
      start = at + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  std::u32string cps = utf8_decode(s);
  size_t i = 0;
  while (true) {
    while (i < cps.size() && is_py_space(cps[i])) ++i;
    if (i >= cps.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      size_t e = cps.size();
      while (e > i && is_py_space(cps[e - 1])) --e;
      parts.push_back(utf8_encode(std::u32string_view(cps).substr(i, e - i)));
      break;
    }
    size_t j = i;
    while (j < cps.size() && !is_py_space(cps[j])) ++j;
    parts.push_back(utf8_encode(std::u32string_view(cps).substr(i, j - i)));
    check_list_size(parts.size(), "a split string");
    i = j;
  }
  return parts;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts `repl` between every code point and at both ends
    std::u32string cps = utf8_decode(s);
    int64_t n = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || n < count) {
        out += repl;
        ++n;
      }
      if (i < cps.size()) out += utf8_encode(std::u32string(1, cps[i]));
      check_string_size(out.size(), "a replaced string");
    }
    return out;
  }
  size_t start = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t at = find_substring(s, old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(repl);
    check_string_size(out.size(), "a replaced string");
    start = at + old.size();
    ++n;
  }
  out.append(s.substr(start));
  return out;
}

size_t find_substring(std::string_view hay, std::string_view needle, size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  // Short needles or short texts: the library's search, whose worst case (size products) is small here.
  if (needle.size() <= 32 || (hay.size() - from) * needle.size() <= (size_t{1} << 22)) return hay.find(needle, from);
  // Knuth-Morris-Pratt: failure[i] is the length of the longest proper border of needle[0..i].
  std::vector<size_t> failure(needle.size(), 0);
  for (size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = failure[k - 1];
    if (needle[i] == needle[k]) ++k;
    failure[i] = k;
  }
  for (size_t i = from, k = 0; i < hay.size(); ++i) {
    while (k > 0 && hay[i] != needle[k]) k = failure[k - 1];
    if (hay[i] == needle[k]) ++k;
    if (k == needle.size()) return i + 1 - k;
  }
  return std::string_view::npos;
}

size_t rfind_substring(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  if (needle.size() <= 32 || hay.size() * needle.size() <= (size_t{1} << 22)) return hay.rfind(needle);
  const std::string rhay(hay.rbegin(), hay.rend()), rneedle(needle.rbegin(), needle.rend());
  const size_t at = find_substring(rhay, rneedle);
  return at == std::string_view::npos ? at : hay.size() - at - needle.size();
}

size_t py_len(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace synaptix::model::jinja
