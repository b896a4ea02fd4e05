// Loading tokenizer.json / tokenizer_config.json and running the pipeline: added tokens are cut out of the
// text first (so they are never split or normalized unless marked `normalized`), each remaining segment is
// normalized, pre-tokenized and BPE-encoded, and the post-processor's BOS/EOS are put around the result.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <utf8proc.h>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/model/tokenizer_gguf.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model {
using namespace tokenizer_detail;

namespace {

std::optional<std::string> read_file_if_exists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

bool is_white_space(char32_t cp) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
         cat == UTF8PROC_CATEGORY_ZP;
}

bool is_word_char(char32_t cp) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

char32_t decode_at(std::string_view s, size_t i) { return utf8_codepoints(s.substr(i, utf8_char_len(s, i)))[0]; }

size_t prev_char_start(std::string_view s, size_t i) {
  do {
    --i;
  } while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80);
  return i;
}

// A piece of input text: either an added token's id, or text still to tokenize.
struct Segment {
  std::string_view text;
  size_t offset;  // in the original input, for prepend_scheme "first"
  std::optional<int32_t> added_id;
};

// Cuts the matches of the added tokens (those with the given `normalized` flag) out of `text`, leftmost-longest,
// with the lstrip/rstrip/single_word rules of the tokenizers library.
void split_added(const Pipeline& p, bool normalized, std::string_view text, size_t base, std::vector<Segment>& out) {
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* hit = nullptr;
    for (uint32_t idx : p.added_by_first_byte[static_cast<uint8_t>(text[pos])]) {  // longest first
      const AddedToken& t = p.added[idx];
      if (t.normalized != normalized) continue;
      if (text.compare(pos, t.content.size(), t.content) != 0) continue;
      size_t stop = pos + t.content.size();
      if (t.single_word) {
        const bool start_ok = pos == 0 || !is_word_char(decode_at(text, prev_char_start(text, pos)));
        const bool stop_ok = stop == text.size() || !is_word_char(decode_at(text, stop));
        if (!start_ok || !stop_ok) continue;
      }
      hit = &t;
      break;
    }
    if (!hit) {
      pos += utf8_char_len(text, pos);
      continue;
    }
    size_t start = pos, stop = pos + hit->content.size();
    if (hit->lstrip) {
      while (start > start_offset) {
        const size_t p = prev_char_start(text, start);
        if (!is_white_space(decode_at(text, p))) break;
        start = p;
      }
    }
    if (hit->rstrip) {
      while (stop < text.size() && is_white_space(decode_at(text, stop))) stop += utf8_char_len(text, stop);
    }
    if (start > start_offset) out.push_back({text.substr(start_offset, start - start_offset), base + start_offset, {}});
    out.push_back({text.substr(start, stop - start), base + start, hit->id});
    start_offset = pos = stop;
  }
  if (start_offset < text.size()) out.push_back({text.substr(start_offset), base + start_offset, {}});
}

const json* find_key(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// tokenizer_config.json writes special tokens as a string or as an AddedToken object {"content": ...}.
std::string config_token(const json& config, const char* key, const std::string& where) {
  const json* v = find_key(config, key);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {
    if (const json* c = find_key(*v, "content"); c && c->is_string()) return c->get<std::string>();
  }
  fail(where, ".", key, ": expected a string or {\"content\": string}");
}

// TemplateProcessing "single" template: the special tokens before and after sequence A.
void parse_template(const json& node, const std::string& path, std::vector<int32_t>& prefix,
                    std::vector<int32_t>& suffix) {
  const json* single = find_key(node, "single");
  if (!single || !single->is_array()) fail(path, ".single: expected an array");
  const json* specials = find_key(node, "special_tokens");
  bool seen_a = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const json& item = (*single)[i];
    const std::string ipath = path + ".single[" + std::to_string(i) + "]";
    if (const json* seq = find_key(item, "Sequence")) {
      if (!seq->is_object() || seq->value("id", "") != "A") fail(ipath, ".Sequence.id: expected \"A\"");
      seen_a = true;
    } else if (const json* sp = find_key(item, "SpecialToken")) {
      const std::string name = sp->is_object() ? sp->value("id", "") : "";
      const json* entry = specials && specials->is_object() ? find_key(*specials, name.c_str()) : nullptr;
      const json* ids = entry ? find_key(*entry, "ids") : nullptr;
      if (!ids || !ids->is_array()) fail(ipath, ": special token \"", name, "\" has no ids in ", path, ".special_tokens");
      for (const json& id : *ids) {
        if (!id.is_number_integer()) fail(path, ".special_tokens[\"", name, "\"].ids: expected integers");
        (seen_a ? suffix : prefix).push_back(id.get<int32_t>());
      }
    } else {
      fail(ipath, ": expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_a) fail(path, ".single: no {\"Sequence\": {\"id\": \"A\"}} item");
}

void parse_post_processor(const json& node, const std::string& path, std::vector<int32_t>& prefix,
                          std::vector<int32_t>& suffix) {
  if (node.is_null()) return;
  const std::string type = node.is_object() ? node.value("type", "") : "";
  if (type == "TemplateProcessing") {
    parse_template(node, path, prefix, suffix);
  } else if (type == "ByteLevel") {
    // Only adjusts offsets; ids are unchanged.
  } else if (type == "Sequence") {
    const json* procs = find_key(node, "processors");
    if (!procs || !procs->is_array()) fail(path, ".processors: expected an array");
    for (size_t i = 0; i < procs->size(); ++i) {
      parse_post_processor((*procs)[i], path + ".processors[" + std::to_string(i) + "]", prefix, suffix);
    }
  } else {
    fail(path, ".type: unsupported post-processor \"", type, "\"; expected TemplateProcessing, ByteLevel or Sequence");
  }
}

std::optional<int32_t> lookup(const Pipeline& p, const std::string& token) {
  if (auto it = p.added_by_content.find(token); it != p.added_by_content.end()) return it->second;
  return p.bpe->token_id(token);
}

// tokenizer_config.json: special token names, chat template, and add_bos_token/add_eos_token.
void apply_config(Pipeline& p, std::string_view config_json) {
  const std::string cwhere = "tokenizer_config.json";
  json config;
  try {
    config = json::parse(config_json);
  } catch (const json::exception& e) {
    fail(cwhere, ": invalid JSON: ", e.what());
  }
  if (!config.is_object()) fail(cwhere, ": expected a JSON object");
  p.bos_token = config_token(config, "bos_token", cwhere);
  p.eos_token = config_token(config, "eos_token", cwhere);
  if (const json* ct = find_key(config, "chat_template"); ct && !ct->is_null()) {
    if (ct->is_string()) {
      p.chat_template = ct->get<std::string>();
    } else if (ct->is_array()) {
      for (const json& t : *ct) {
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string()) {
          p.chat_template = t["template"].get<std::string>();
        }
      }
    } else {
      fail(cwhere, ".chat_template: expected a string or a list of {name, template}");
    }
  }
  if (!p.bos_token.empty()) p.bos_id = lookup(p, p.bos_token);
  if (!p.eos_token.empty()) p.eos_id = lookup(p, p.eos_token);
  // transformers rebuilds the post-processor from add_bos_token/add_eos_token when the config sets them.
  auto flag = [&](const char* key) -> std::optional<bool> {
    const json* v = find_key(config, key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_boolean()) fail(cwhere, ".", key, ": expected a boolean");
    return v->get<bool>();
  };
  auto add_bos = flag("add_bos_token"), add_eos = flag("add_eos_token");
  if (add_bos || add_eos) {
    p.prefix_ids.clear();
    p.suffix_ids.clear();
    if (add_bos.value_or(false)) {
      if (!p.bos_id) fail(cwhere, ".add_bos_token is true but bos_token \"", p.bos_token, "\" is not a known token");
      p.prefix_ids.push_back(*p.bos_id);
    }
    if (add_eos.value_or(false)) {
      if (!p.eos_id) fail(cwhere, ".add_eos_token is true but eos_token \"", p.eos_token, "\" is not a known token");
      p.suffix_ids.push_back(*p.eos_id);
    }
  }
}

}  // namespace

Tokenizer::Tokenizer() : p_(std::make_unique<Pipeline>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& dir) {
  if (is_gguf_file(dir)) return from_gguf(read_gguf_tokenizer_metadata(dir));
  const std::string path = dir + "/tokenizer.json";
  auto text = read_file_if_exists(path);
  if (!text) fail(path, ": cannot open (a Hugging Face tokenizer.json was expected)");
  auto config = read_file_if_exists(dir + "/tokenizer_config.json");
  return from_json(*text, config.value_or(""), path);
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json,
                               const std::string& where) {
  Tokenizer tok;
  Pipeline& p = *tok.p_;
  p.where = where;
  json root;
  try {
    root = json::parse(tokenizer_json);
  } catch (const json::exception& e) {
    fail(where, ": invalid JSON: ", e.what());
  }
  try {
    if (!root.is_object()) fail(where, ": expected a JSON object at the top level");
    const json* model = find_key(root, "model");
    if (!model || !model->is_object()) fail(where, ": model: missing (expected an object with \"type\": \"BPE\")");
    p.bpe = std::make_unique<Bpe>(*model, where + ": model");

    int64_t max_id = p.bpe->max_id();
    if (const json* added = find_key(root, "added_tokens"); added && !added->is_null()) {
      if (!added->is_array()) fail(where, ": added_tokens: expected an array");
      for (size_t i = 0; i < added->size(); ++i) {
        const json& a = (*added)[i];
        const std::string apath = where + ": added_tokens[" + std::to_string(i) + "]";
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
            a["id"].get<int64_t>() >= INT32_MAX ||
            !a.contains("content") || !a["content"].is_string()) {
          fail(apath, ": expected {\"id\": non-negative integer, \"content\": string, ...}");
        }
        AddedToken t{a["id"].get<int32_t>(), a["content"].get<std::string>(), a.value("special", false),
                     a.value("lstrip", false), a.value("rstrip", false), a.value("normalized", false),
                     a.value("single_word", false)};
        max_id = std::max<int64_t>(max_id, t.id);
        p.added_by_content[t.content] = t.id;
        p.added.push_back(std::move(t));
      }
    }
    // vocab_size() is max id + 1 and sizes what callers allocate per id: an added token far beyond the vocabulary
    // (as the BPE model's own ids are checked) is refused rather than believed.
    if (const int64_t bound = 4 * (static_cast<int64_t>(p.bpe->max_id()) + 1 + static_cast<int64_t>(p.added.size())) + 1024;
        max_id >= bound)
      fail(where, ": added_tokens: id ", max_id, " is implausibly far beyond the vocabulary (", p.bpe->max_id() + 1,
           " model ids and ", p.added.size(), " added tokens; expected ids below ", bound, ")");
    std::stable_sort(p.added.begin(), p.added.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    for (size_t i = 0; i < p.added.size(); ++i) {
      p.added_by_id[p.added[i].id] = i;
      if (!p.added[i].content.empty()) {
        p.added_by_first_byte[static_cast<uint8_t>(p.added[i].content[0])].push_back(static_cast<uint32_t>(i));
      }
    }
    p.vocab_size = max_id + 1;

    p.normalizer = make_normalizer(root.value("normalizer", json()), where + ": normalizer");
    p.pre_tokenizer = make_pre_tokenizer(root.value("pre_tokenizer", json()), where + ": pre_tokenizer");
    p.decoder = make_decoder(root.value("decoder", json()), where + ": decoder");
    parse_post_processor(root.value("post_processor", json()), where + ": post_processor", p.prefix_ids,
                         p.suffix_ids);
  } catch (const json::exception& e) {
    fail(where, ": unexpected JSON structure: ", e.what());
  }

  if (!config_json.empty()) {
    try {
      apply_config(p, config_json);
    } catch (const json::exception& e) {
      fail("tokenizer_config.json: unexpected JSON structure: ", e.what());
    }
  }
  for (int32_t id : p.prefix_ids) {
    if (id < 0 || id >= p.vocab_size) fail(where, ": post_processor: id ", id, " is outside the vocabulary");
  }
  for (int32_t id : p.suffix_ids) {
    if (id < 0 || id >= p.vocab_size) fail(where, ": post_processor: id ", id, " is outside the vocabulary");
  }
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Pipeline& p = *p_;
  if (size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    fail("tokenizer: input text is not valid UTF-8 (at byte ", bad, ")");
  }
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = p.prefix_ids;

  // Pass 1: added tokens that match the raw text. Pass 2 (after normalizing): those marked `normalized`.
  std::vector<Segment> raw;
  split_added(p, false, text, 0, raw);
  for (const Segment& seg : raw) {
    if (seg.added_id) {
      ids.push_back(*seg.added_id);
      continue;
    }
    const std::string normalized = p.normalizer ? p.normalizer->normalize(std::string(seg.text)) : std::string(seg.text);
    std::vector<Segment> parts;
    split_added(p, true, normalized, seg.offset, parts);
    for (const Segment& part : parts) {
      if (part.added_id) {
        ids.push_back(*part.added_id);
        continue;
      }
      std::vector<std::string> pieces{std::string(part.text)};
      if (p.pre_tokenizer) p.pre_tokenizer->split(pieces, part.offset == 0);
      for (const std::string& piece : pieces) p.bpe->tokenize(piece, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), p.suffix_ids.begin(), p.suffix_ids.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Pipeline& p = *p_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= p.vocab_size) fail("tokenizer: cannot decode id ", id, ": expected 0 <= id < ", p.vocab_size);
    if (auto it = p.added_by_id.find(id); it != p.added_by_id.end()) {
      const AddedToken& t = p.added[it->second];
      if (!(skip_special_tokens && t.special)) tokens.push_back(t.content);
    } else if (const std::string* t = p.bpe->token(id)) {
      tokens.push_back(*t);
    }
    // An id inside the range with no token (a gap in the vocab) decodes to nothing, as in the reference.
  }
  if (!p.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  p.decoder->decode(tokens);
  std::string out;
  for (auto& t : tokens) out += t;
  return out;
}

int64_t Tokenizer::vocab_size() const { return p_->vocab_size; }

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  if (auto it = p_->added_by_content.find(std::string(token)); it != p_->added_by_content.end()) return it->second;
  return p_->bpe->token_id(token);
}

std::optional<int32_t> Tokenizer::bos_id() const { return p_->bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return p_->eos_id; }
const std::string& Tokenizer::bos_token() const { return p_->bos_token; }
const std::string& Tokenizer::eos_token() const { return p_->eos_token; }
const std::string& Tokenizer::chat_template() const { return p_->chat_template; }

bool Tokenizer::is_special(int32_t id) const {
  auto it = p_->added_by_id.find(id);
  return it != p_->added_by_id.end() && p_->added[it->second].special;
}

}  // namespace synaptix::model
