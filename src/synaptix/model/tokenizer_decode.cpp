// tokenizer.json decoders: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence. Each rewrites
// the list of token strings, as in the tokenizers library, so a Sequence composes them in order.
#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {
namespace {

const std::string& string_field(const json& node, const char* key, const std::string& path) {
  auto it = node.find(key);
  if (it == node.end() || !it->is_string()) fail(path, ".", key, ": expected a string");
  return it->get_ref<const std::string&>();
}

struct SequenceDecoder : Decoder {
  std::vector<std::unique_ptr<Decoder>> parts;
  void decode(std::vector<std::string>& tokens) const override {
    for (auto& p : parts) p->decode(tokens);
  }
};

// ByteLevel: every character maps back to its byte; a token with a character outside the map keeps its own
// UTF-8 bytes. The bytes of all tokens are joined and repaired to valid UTF-8.
struct ByteLevelDecoder : Decoder {
  void decode(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      const size_t start = bytes.size();
      bool mapped = true;
      for (char32_t cp : utf8_codepoints(t)) {
        auto b = unicode_to_byte(cp);
        if (!b) {
          mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(*b));
      }
      if (!mapped) {
        bytes.resize(start);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

struct ReplaceDecoder : Decoder {
  std::unique_ptr<Regex> pattern;
  std::string content;
  void decode(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      auto matches = pattern->find_all(t);
      if (matches.empty()) continue;
      std::string out;
      size_t last = 0;
      for (auto [b, e] : matches) {
        out.append(t, last, b - last);
        out += content;
        last = e;
      }
      out.append(t, last);
      t = std::move(out);
    }
  }
};

// ByteFallback: runs of <0xXX> tokens become the text their bytes spell, or one U+FFFD per byte when the
// run is not valid UTF-8.
struct ByteFallbackDecoder : Decoder {
  static std::optional<uint8_t> byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<uint8_t>(hi * 16 + lo);
  }
  void decode(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (find_invalid_utf8(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
    };
    for (std::string& t : tokens) {
      if (auto b = byte_token(t)) {
        run.push_back(static_cast<char>(*b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

struct FuseDecoder : Decoder {
  void decode(std::vector<std::string>& tokens) const override {
    std::string all;
    for (auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Strip: removes up to `start` leading and `stop` trailing copies of `content` from every token.
struct StripDecoder : Decoder {
  char32_t content;
  size_t start, stop;
  void decode(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      auto cps = utf8_codepoints(t);
      size_t b = 0, e = cps.size();
      while (b < start && b < e && cps[b] == content) ++b;
      for (size_t k = 0; k < stop && e > b && cps[e - 1] == content; ++k) --e;
      std::string s;
      for (size_t i = b; i < e; ++i) append_utf8(s, cps[i]);
      t = std::move(s);
    }
  }
};

// Metaspace: the replacement character becomes a space, except in the first token, where the reference drops
// it (all of them, not only the leading one the pre-tokenizer added) unless prepend_scheme is "never".
struct MetaspaceDecoder : Decoder {
  std::string replacement;
  bool strip_first = true;
  void decode(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      const bool drop = i == 0 && strip_first;
      std::string s;
      size_t pos = 0;
      while (pos < t.size()) {
        if (t.compare(pos, replacement.size(), replacement) == 0) {
          if (!drop) s.push_back(' ');
          pos += replacement.size();
        } else {
          s.push_back(t[pos++]);
        }
      }
      t = std::move(s);
    }
  }
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& node, const std::string& path) {
  if (node.is_null()) return nullptr;
  if (!node.is_object()) fail(path, ": expected an object or null");
  const std::string& type = string_field(node, "type", path);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceDecoder>();
    auto it = node.find("decoders");
    if (it == node.end() || !it->is_array()) fail(path, ".decoders: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      auto d = make_decoder((*it)[i], path + ".decoders[" + std::to_string(i) + "]");
      if (d) seq->parts.push_back(std::move(d));
    }
    return seq;
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    auto d = std::make_unique<ReplaceDecoder>();
    auto it = node.find("pattern");
    if (it == node.end()) fail(path, ".pattern: missing");
    d->pattern = make_pattern(*it, path + ".pattern");
    d->content = string_field(node, "content", path);
    return d;
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    auto d = std::make_unique<StripDecoder>();
    auto cps = utf8_codepoints(string_field(node, "content", path));
    if (cps.size() != 1) fail(path, ".content: expected a single character");
    d->content = cps[0];
    auto count = [&](const char* key) -> size_t {
      auto it = node.find(key);
      if (it == node.end() || !it->is_number_unsigned()) fail(path, ".", key, ": expected a non-negative integer");
      return it->get<size_t>();
    };
    d->start = count("start");
    d->stop = count("stop");
    return d;
  }
  if (type == "Metaspace") {
    auto d = std::make_unique<MetaspaceDecoder>();
    d->replacement = string_field(node, "replacement", path);
    if (d->replacement.empty()) fail(path, ".replacement: expected a one-character string");
    if (auto ps = node.find("prepend_scheme"); ps != node.end() && ps->is_string()) {
      d->strip_first = ps->get_ref<const std::string&>() != "never";
    } else {
      d->strip_first = node.value("add_prefix_space", true);
    }
    return d;
  }
  fail(path, ".type: unsupported decoder \"", type,
       "\"; expected one of Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip");
}

}  // namespace synaptix::model::tokenizer_detail
