// tokenizer.json normalizers: Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip.
#include <cstdlib>

#include <utf8proc.h>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {
namespace {

const std::string& string_field(const json& node, const char* key, const std::string& path) {
  auto it = node.find(key);
  if (it == node.end() || !it->is_string()) fail(path, ".", key, ": expected a string");
  return it->get_ref<const std::string&>();
}

struct SequenceNormalizer : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> parts;
  std::string normalize(std::string s) const override {
    for (auto& p : parts) s = p->normalize(std::move(s));
    return s;
  }
};

// Prepend: only a non-empty string gets the prefix (as the tokenizers library does).
struct PrependNormalizer : Normalizer {
  std::string prefix;
  std::string normalize(std::string s) const override { return s.empty() ? s : prefix + s; }
};

struct ReplaceNormalizer : Normalizer {
  std::unique_ptr<Regex> pattern;
  std::string content;
  std::string normalize(std::string s) const override {
    auto matches = pattern->find_all(s);
    if (matches.empty()) return s;
    std::string out;
    size_t last = 0;
    for (auto [b, e] : matches) {
      out.append(s, last, b - last);
      out += content;
      last = e;
    }
    out.append(s, last);
    return out;
  }
};

struct UnicodeNormalizer : Normalizer {
  utf8proc_option_t options;
  std::string name;
  std::string normalize(std::string s) const override {
    if (s.empty()) return s;
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                          &out, options);
    if (n < 0) fail("tokenizer normalizer ", name, ": ", utf8proc_errmsg(n));
    std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
  }
};

struct LowercaseNormalizer : Normalizer {
  std::string normalize(std::string s) const override {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : utf8_codepoints(s)) {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    return out;
  }
};

struct StripNormalizer : Normalizer {
  bool left, right;
  static bool is_space(char32_t cp) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cat == UTF8PROC_CATEGORY_ZS ||
           cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP || cp == 0x85;
  }
  std::string normalize(std::string s) const override {
    auto cps = utf8_codepoints(s);
    size_t b = 0, e = cps.size();
    if (left) while (b < e && is_space(cps[b])) ++b;
    if (right) while (e > b && is_space(cps[e - 1])) --e;
    std::string out;
    for (size_t i = b; i < e; ++i) append_utf8(out, cps[i]);
    return out;
  }
};

}  // namespace

// A Replace/Split "pattern" is {"String": s} (literal) or {"Regex": r}.
std::unique_ptr<Regex> make_pattern(const json& node, const std::string& path) {
  if (!node.is_object()) fail(path, ": expected {\"String\": ...} or {\"Regex\": ...}");
  if (auto it = node.find("String"); it != node.end() && it->is_string()) {
    if (it->get_ref<const std::string&>().empty()) fail(path, ".String: expected a non-empty string");
    return std::make_unique<Regex>(it->get<std::string>(), true, path);
  }
  if (auto it = node.find("Regex"); it != node.end() && it->is_string()) {
    return std::make_unique<Regex>(it->get<std::string>(), false, path + ".Regex");
  }
  fail(path, ": expected {\"String\": ...} or {\"Regex\": ...}");
}

std::unique_ptr<Normalizer> make_normalizer(const json& node, const std::string& path) {
  if (node.is_null()) return nullptr;
  if (!node.is_object()) fail(path, ": expected an object or null");
  const std::string& type = string_field(node, "type", path);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceNormalizer>();
    auto it = node.find("normalizers");
    if (it == node.end() || !it->is_array()) fail(path, ".normalizers: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      auto n = make_normalizer((*it)[i], path + ".normalizers[" + std::to_string(i) + "]");
      if (n) seq->parts.push_back(std::move(n));
    }
    return seq;
  }
  if (type == "Prepend") {
    auto n = std::make_unique<PrependNormalizer>();
    n->prefix = string_field(node, "prepend", path);
    return n;
  }
  if (type == "Replace") {
    auto n = std::make_unique<ReplaceNormalizer>();
    auto it = node.find("pattern");
    if (it == node.end()) fail(path, ".pattern: missing");
    n->pattern = make_pattern(*it, path + ".pattern");
    n->content = string_field(node, "content", path);
    return n;
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    auto n = std::make_unique<UnicodeNormalizer>();
    n->name = type;
    int opts = UTF8PROC_STABLE | (type[2] == 'K' ? UTF8PROC_COMPAT : 0);
    opts |= type.back() == 'C' ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
    n->options = static_cast<utf8proc_option_t>(opts);
    return n;
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") {
    auto n = std::make_unique<StripNormalizer>();
    n->left = node.value("strip_left", true);
    n->right = node.value("strip_right", true);
    return n;
  }
  fail(path, ".type: unsupported normalizer \"", type,
       "\"; expected one of Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip");
}

}  // namespace synaptix::model::tokenizer_detail
