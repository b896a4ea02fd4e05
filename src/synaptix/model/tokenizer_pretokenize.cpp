// tokenizer.json pre-tokenizers: Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit.
#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {
namespace {

// GPT-2's pattern, which ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits `s` at the regex matches the way the tokenizers library's SplitDelimiterBehavior does.
void split_by(const Regex& re, Behavior behavior, bool invert, std::string_view s, std::vector<std::string>& out) {
  // (range, is_match) covering s.
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> parts;
  size_t last = 0;
  for (auto m : re.find_all(s)) {
    if (m.first > last) parts.push_back({{last, m.first}, invert});
    parts.push_back({m, !invert});
    last = m.second;
  }
  if (last < s.size()) parts.push_back({{last, s.size()}, invert});

  auto piece = [&](std::pair<size_t, size_t> r) { return std::string(s.substr(r.first, r.second - r.first)); };
  switch (behavior) {
    case Behavior::Removed:
      for (auto& [r, is_match] : parts) if (!is_match) out.push_back(piece(r));
      break;
    case Behavior::Isolated:
      for (auto& [r, is_match] : parts) out.push_back(piece(r));
      break;
    case Behavior::MergedWithPrevious: {
      // A delimiter joins the piece before it, unless that piece is itself a delimiter.
      bool prev_match = false, any = false;
      for (auto& [r, is_match] : parts) {
        if (is_match && !prev_match && any) {
          out.back() += piece(r);
        } else {
          out.push_back(piece(r));
        }
        any = true;
        prev_match = is_match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      std::string pending;
      bool has_pending = false;
      for (auto& [r, is_match] : parts) {
        if (is_match) {
          if (has_pending) out.push_back(std::move(pending));
          pending = piece(r);
          has_pending = true;
        } else {
          out.push_back((has_pending ? pending : std::string()) + piece(r));
          pending.clear();
          has_pending = false;
        }
      }
      if (has_pending) out.push_back(std::move(pending));
      break;
    }
    case Behavior::Contiguous: {
      bool prev_match = false, any = false;
      for (auto& [r, is_match] : parts) {
        if (is_match == prev_match && any) {
          out.back() += piece(r);
        } else {
          out.push_back(piece(r));
        }
        any = true;
        prev_match = is_match;
      }
      break;
    }
  }
}

Behavior parse_behavior(const json& node, const std::string& path) {
  auto it = node.find("behavior");
  if (it == node.end() || !it->is_string()) fail(path, ".behavior: expected a string");
  const std::string& b = it->get_ref<const std::string&>();
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail(path, ".behavior: unsupported \"", b,
       "\"; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

// Applies a per-piece splitter to every piece.
template <typename F>
void for_each_piece(std::vector<std::string>& pieces, F&& f) {
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (auto& p : pieces) f(p, out);
  pieces = std::move(out);
}

struct SequencePreTokenizer : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> parts;
  void split(std::vector<std::string>& pieces, bool first) const override {
    for (auto& p : parts) p->split(pieces, first);
  }
};

// ByteLevel: optional leading space, optional GPT-2 regex split, then every byte becomes its printable
// stand-in character so that BPE works on any byte sequence.
struct ByteLevelPreTokenizer : PreTokenizer {
  bool add_prefix_space = false;
  std::unique_ptr<Regex> regex;  // null when use_regex is false
  void split(std::vector<std::string>& pieces, bool) const override {
    for_each_piece(pieces, [&](std::string& p, std::vector<std::string>& out) {
      if (add_prefix_space && !p.empty() && p[0] != ' ') p.insert(p.begin(), ' ');
      std::vector<std::string> parts;
      if (regex) {
        split_by(*regex, Behavior::Isolated, false, p, parts);
      } else {
        parts.push_back(std::move(p));
      }
      for (auto& part : parts) {
        std::string mapped;
        mapped.reserve(part.size() * 2);
        for (char c : part) mapped += byte_to_unicode(static_cast<uint8_t>(c));
        out.push_back(std::move(mapped));
      }
    });
  }
};

struct SplitPreTokenizer : PreTokenizer {
  std::unique_ptr<Regex> regex;
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  void split(std::vector<std::string>& pieces, bool) const override {
    for_each_piece(pieces, [&](std::string& p, std::vector<std::string>& out) {
      split_by(*regex, behavior, invert, p, out);
    });
  }
};

// Metaspace: spaces become the replacement character (U+2581), a prefix one is added as prepend_scheme
// says, and pieces split before each replacement character.
struct MetaspacePreTokenizer : PreTokenizer {
  std::string replacement;
  enum class Prepend { Always, Never, First } prepend = Prepend::Always;
  bool split_pieces = true;
  std::unique_ptr<Regex> space, repl;
  void split(std::vector<std::string>& pieces, bool first) const override {
    bool first_piece = true;
    for_each_piece(pieces, [&](std::string& p, std::vector<std::string>& out) {
      std::string s;
      size_t last = 0;
      for (auto [b, e] : space->find_all(p)) {
        s.append(p, last, b - last);
        s += replacement;
        last = e;
      }
      s.append(p, last);
      const bool want = prepend == Prepend::Always || (prepend == Prepend::First && first && first_piece);
      if (want && !s.empty() && s.compare(0, replacement.size(), replacement) != 0) s.insert(0, replacement);
      first_piece = false;
      if (split_pieces) {
        split_by(*repl, Behavior::MergedWithNext, false, s, out);
      } else {
        out.push_back(std::move(s));
      }
    });
  }
};

struct RegexSplitPreTokenizer : PreTokenizer {  // Digits, Whitespace, WhitespaceSplit
  std::unique_ptr<Regex> regex;
  Behavior behavior;
  bool invert;
  void split(std::vector<std::string>& pieces, bool) const override {
    for_each_piece(pieces, [&](std::string& p, std::vector<std::string>& out) {
      split_by(*regex, behavior, invert, p, out);
    });
  }
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& node, const std::string& path) {
  if (node.is_null()) return nullptr;
  if (!node.is_object()) fail(path, ": expected an object or null");
  auto type_it = node.find("type");
  if (type_it == node.end() || !type_it->is_string()) fail(path, ".type: expected a string");
  const std::string& type = type_it->get_ref<const std::string&>();
  if (type == "Sequence") {
    auto seq = std::make_unique<SequencePreTokenizer>();
    auto it = node.find("pretokenizers");
    if (it == node.end() || !it->is_array()) fail(path, ".pretokenizers: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      auto p = make_pre_tokenizer((*it)[i], path + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) seq->parts.push_back(std::move(p));
    }
    return seq;
  }
  if (type == "ByteLevel") {
    auto p = std::make_unique<ByteLevelPreTokenizer>();
    p->add_prefix_space = node.value("add_prefix_space", false);
    if (node.value("use_regex", true)) p->regex = std::make_unique<Regex>(kGpt2Pattern, false, path);
    return p;
  }
  if (type == "Split") {
    auto p = std::make_unique<SplitPreTokenizer>();
    auto it = node.find("pattern");
    if (it == node.end()) fail(path, ".pattern: missing");
    p->regex = make_pattern(*it, path + ".pattern");
    p->behavior = parse_behavior(node, path);
    p->invert = node.value("invert", false);
    return p;
  }
  if (type == "Metaspace") {
    auto p = std::make_unique<MetaspacePreTokenizer>();
    auto it = node.find("replacement");
    if (it == node.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      fail(path, ".replacement: expected a one-character string");
    }
    p->replacement = it->get<std::string>();
    if (auto ps = node.find("prepend_scheme"); ps != node.end() && ps->is_string()) {
      const std::string& v = ps->get_ref<const std::string&>();
      if (v == "always") p->prepend = MetaspacePreTokenizer::Prepend::Always;
      else if (v == "never") p->prepend = MetaspacePreTokenizer::Prepend::Never;
      else if (v == "first") p->prepend = MetaspacePreTokenizer::Prepend::First;
      else fail(path, ".prepend_scheme: unsupported \"", v, "\"; expected always, never or first");
    } else {
      p->prepend = node.value("add_prefix_space", true) ? MetaspacePreTokenizer::Prepend::Always
                                                         : MetaspacePreTokenizer::Prepend::Never;
    }
    p->split_pieces = node.value("split", true);
    p->space = std::make_unique<Regex>(" ", true, path);
    p->repl = std::make_unique<Regex>(p->replacement, true, path + ".replacement");
    return p;
  }
  if (type == "Digits") {
    auto p = std::make_unique<RegexSplitPreTokenizer>();
    const bool individual = node.value("individual_digits", false);
    p->regex = std::make_unique<Regex>(R"(\p{N})", false, path);
    p->behavior = individual ? Behavior::Isolated : Behavior::Contiguous;
    p->invert = false;
    return p;
  }
  if (type == "Whitespace") {
    auto p = std::make_unique<RegexSplitPreTokenizer>();
    p->regex = std::make_unique<Regex>(R"(\w+|[^\w\s]+)", false, path);
    p->behavior = Behavior::Removed;
    p->invert = true;
    return p;
  }
  if (type == "WhitespaceSplit") {
    auto p = std::make_unique<RegexSplitPreTokenizer>();
    p->regex = std::make_unique<Regex>(R"(\s+)", false, path);
    p->behavior = Behavior::Removed;
    p->invert = false;
    return p;
  }
  fail(path, ".type: unsupported pre-tokenizer \"", type,
       "\"; expected one of Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit");
}

}  // namespace synaptix::model::tokenizer_detail
