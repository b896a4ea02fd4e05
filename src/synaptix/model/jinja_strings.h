#pragma once
// Python str operations on UTF-8 text, shared by filters and methods: stripping, case mapping (Unicode, via
// utf8proc), splitting, replacing, slicing by code point.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synaptix::model::jinja {

enum class StripSide { Both, Left, Right };
// str.strip(chars): `chars` nullopt strips Unicode whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, StripSide side);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);  // first code point upper, the rest lower
std::string py_title(std::string_view s);       // each word's first letter upper, the rest lower
// str.split(sep, maxsplit): sep nullopt splits on runs of whitespace; maxsplit < 0 means no limit.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
size_t py_len(std::string_view s);  // code points
// Byte offset of the first (last) `needle` in `hay` at or after `from`, or npos. Linear time whatever the
// input: a template can make both strings megabytes long, where a naive search takes hours.
size_t find_substring(std::string_view hay, std::string_view needle, size_t from = 0);
size_t rfind_substring(std::string_view hay, std::string_view needle);

}  // namespace synaptix::model::jinja
