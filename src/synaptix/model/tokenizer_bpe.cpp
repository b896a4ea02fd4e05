// Byte-pair encoding as the tokenizers library's BPE model runs it: split a piece into characters (unknown
// ones become <0xXX> byte tokens with byte_fallback, or the unk token), then repeatedly apply the
// lowest-ranked merge. A min-heap of candidate merges over a linked list of symbols makes one word
// O(n log n) instead of the naive O(n^2) rescans; results are cached per word.
#include <cstdio>
#include <queue>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {
namespace {

constexpr size_t kCacheMaxWordBytes = 256;  // longer words are rare and not worth caching
constexpr size_t kCacheMaxEntries = 1 << 16;

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::optional<std::string> optional_string(const json& model, const char* key, const std::string& path) {
  auto it = model.find(key);
  if (it == model.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail(path, ".", key, ": expected a string or null");
  return it->get<std::string>();
}

}  // namespace

Bpe::Bpe(const json& model, const std::string& path) {
  auto type = model.find("type");
  if (type != model.end() && !(type->is_string() && type->get_ref<const std::string&>() == "BPE")) {
    fail(path, ".type: unsupported model type ", type->dump(), "; only \"BPE\" is supported");
  }
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) fail(path, ".vocab: expected an object of token -> id");
  int32_t max_id = -1;
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX - 1) {
      fail(path, ".vocab[\"", it.key(), "\"]: expected a non-negative integer id");
    }
    const auto id = static_cast<int32_t>(it.value().get<int64_t>());
    vocab_.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
  if (max_id > 0 && static_cast<size_t>(max_id) >= 4 * vocab_.size() + 1024) {
    fail(path, ".vocab: ids are implausibly sparse (max id ", max_id, " for ", vocab_.size(), " tokens)");
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  has_id_.resize(static_cast<size_t>(max_id + 1), false);
  for (auto& [tok, id] : vocab_) {
    id_to_token_[static_cast<size_t>(id)] = tok;
    has_id_[static_cast<size_t>(id)] = true;
  }

  continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix", path).value_or("");
  end_of_word_suffix_ = optional_string(model, "end_of_word_suffix", path).value_or("");
  if (auto unk = optional_string(model, "unk_token", path)) {
    auto it = vocab_.find(*unk);
    if (it == vocab_.end()) fail(path, ".unk_token: \"", *unk, "\" is not in the vocab");
    unk_id_ = it->second;
  }
  auto flag = [&](const char* key) {
    auto it = model.find(key);
    if (it == model.end() || it->is_null()) return false;
    if (!it->is_boolean()) fail(path, ".", key, ": expected a boolean");
    return it->get<bool>();
  };
  fuse_unk_ = flag("fuse_unk");
  byte_fallback_ = flag("byte_fallback");
  ignore_merges_ = flag("ignore_merges");
  if (auto d = model.find("dropout"); d != model.end() && !d->is_null() && !(d->is_number() && d->get<double>() == 0)) {
    fail(path, ".dropout: BPE dropout is for training; expected null");
  }
  byte_ids_.resize(256);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (auto it = vocab_.find(name); it != vocab_.end()) byte_ids_[static_cast<size_t>(b)] = it->second;
  }

  // Merges: "a b" strings (older files) or ["a", "b"] pairs (newer files); rank = position in the list.
  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) fail(path, ".merges: expected an array");
  const size_t prefix_len = continuing_subword_prefix_.size();
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const json& m = (*merges)[rank];
    const std::string where = path + ".merges[" + std::to_string(rank) + "]";
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) fail(where, ": expected \"left right\", got \"", s, "\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      fail(where, ": expected \"left right\" or [\"left\", \"right\"]");
    }
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end()) fail(where, ": token \"", a, "\" is not in the vocab");
    if (ib == vocab_.end()) fail(where, ": token \"", b, "\" is not in the vocab");
    const std::string merged = a + (b.compare(0, prefix_len, continuing_subword_prefix_) == 0 ? b.substr(prefix_len) : b);
    auto im = vocab_.find(merged);
    if (im == vocab_.end()) fail(where, ": merged token \"", merged, "\" is not in the vocab");
    // The first occurrence of a pair wins, as in the reference.
    merges_.emplace(pair_key(ia->second, ib->second), Merge{static_cast<int32_t>(rank), im->second});
  }
}

std::optional<int32_t> Bpe::token_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* Bpe::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[static_cast<size_t>(id)]) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void Bpe::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto it = vocab_.find(std::string(piece)); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = piece.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (auto it = cache_.find(std::string(piece)); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::move(ids));
  }
}

void Bpe::merge_word(std::string_view piece, std::vector<int32_t>& out) const {
  // Symbols form a doubly linked list; a merged-away symbol is marked dead.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> syms;
  syms.reserve(piece.size());
  // A run of unknown characters, fused when fuse_unk; -1 when none. (A plain int: GCC 12 at -O2/-O3 reports a
  // false maybe-uninitialized on std::optional<int32_t> here.)
  int32_t pending_unk = -1;
  auto push = [&](int32_t id) {
    const auto n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, n + 1, true});
  };
  auto flush_unk = [&] {
    if (pending_unk >= 0) push(pending_unk);
    pending_unk = -1;
  };
  std::string sym;
  for (size_t i = 0; i < piece.size();) {
    const size_t n = utf8_char_len(piece, i);
    const bool first = i == 0, last = i + n == piece.size();
    sym.clear();
    if (!first) sym += continuing_subword_prefix_;
    sym.append(piece.substr(i, n));
    if (last) sym += end_of_word_suffix_;
    if (auto it = vocab_.find(sym); it != vocab_.end()) {
      flush_unk();
      push(it->second);
    } else {
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (size_t k = 0; k < n; ++k) all = all && byte_ids_[static_cast<uint8_t>(piece[i + k])].has_value();
        if (all) {
          flush_unk();
          for (size_t k = 0; k < n; ++k) push(*byte_ids_[static_cast<uint8_t>(piece[i + k])]);
          done = true;
        }
      }
      if (!done && unk_id_) {
        if (!(pending_unk >= 0 && fuse_unk_)) {
          flush_unk();
          pending_unk = *unk_id_;
        }
      }
      // Without an unk token the reference drops the character; so do we.
    }
    i += n;
  }
  flush_unk();
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Candidate {
    int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto consider = [&](int32_t pos) {
    const int32_t nx = syms[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    auto it = merges_.find(pair_key(syms[static_cast<size_t>(pos)].id, syms[static_cast<size_t>(nx)].id));
    if (it != merges_.end()) heap.push({it->second.rank, pos, it->second.new_id});
  };
  for (int32_t p = 0; p + 1 < static_cast<int32_t>(syms.size()); ++p) consider(p);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& left = syms[static_cast<size_t>(c.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = syms[static_cast<size_t>(left.next)];
    // Stale entry: the pair at this position changed since it was queued.
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.rank != c.rank || it->second.new_id != c.new_id) continue;
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = c.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(c.pos);
  }
  for (const Symbol& s : syms) {
    if (s.alive) out.push_back(s.id);
  }
}

}  // namespace synaptix::model::tokenizer_detail
