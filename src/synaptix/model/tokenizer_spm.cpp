// SentencePiece BPE by scores: the piece starts as one symbol per UTF-8 character; every neighbouring pair
// whose concatenation is a token is a candidate, ranked by that token's score. A max-heap of candidates over a
// linked list of symbols applies the best one, then queues the pairs it formed with its neighbours. Symbols
// that never became a token are spelled out as byte tokens.
#include <algorithm>
#include <cstdio>
#include <queue>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {

ScoredBpe::ScoredBpe(std::vector<std::string> tokens, std::vector<float> scores, std::optional<int32_t> unk_id,
                     const std::string& where)
    : id_to_token_(std::move(tokens)), scores_(std::move(scores)), unk_id_(unk_id), where_(where) {
  if (scores_.size() != id_to_token_.size()) {
    fail(where_, ": ", scores_.size(), " scores for ", id_to_token_.size(), " tokens (expected one score per token)");
  }
  if (unk_id_ && (*unk_id_ < 0 || static_cast<size_t>(*unk_id_) >= id_to_token_.size())) {
    fail(where_, ": unknown token id ", *unk_id_, " is outside the vocabulary of ", id_to_token_.size());
  }
  vocab_.reserve(id_to_token_.size());
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    if (id_to_token_[id].empty()) fail(where_, ": token ", id, " is empty");
    // A repeated token maps to its last id, as in the reference runtime.
    vocab_.insert_or_assign(id_to_token_[id], static_cast<int32_t>(id));
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (auto it = vocab_.find(std::string_view(name)); it != vocab_.end()) {
      byte_ids_[static_cast<size_t>(b)] = it->second;
    }
  }
}

std::optional<int32_t> ScoredBpe::token_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* ScoredBpe::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void ScoredBpe::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  struct Symbol {
    uint32_t begin, size;  // bytes of `piece`; size 0 once merged into its left neighbour
    int32_t prev, next;
  };
  std::vector<Symbol> syms;
  syms.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    const size_t n = std::min(utf8_char_len(piece, i), piece.size() - i);
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n), idx - 1, idx + 1});
    i += n;
  }
  syms.back().next = -1;

  struct Candidate {
    float score;
    int32_t left, right;
    uint32_t size;  // bytes of the merged token, to recognise a pair that changed since it was queued
  };
  // Highest score first; on equal scores the leftmost pair.
  auto lower = [](const Candidate& a, const Candidate& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)> heap(lower);
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[static_cast<size_t>(left)];
    const Symbol& r = syms[static_cast<size_t>(right)];
    auto it = vocab_.find(piece.substr(l.begin, l.size + r.size));
    if (it == vocab_.end()) return;
    heap.push({scores_[static_cast<size_t>(it->second)], left, right, l.size + r.size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) consider(i - 1, i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& l = syms[static_cast<size_t>(c.left)];
    Symbol& r = syms[static_cast<size_t>(c.right)];
    if (l.size == 0 || r.size == 0 || l.next != c.right || l.size + r.size != c.size) continue;  // stale
    l.size += r.size;
    r.size = 0;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = syms[static_cast<size_t>(i)].next) {
    const Symbol& s = syms[static_cast<size_t>(i)];
    const std::string_view text = piece.substr(s.begin, s.size);
    if (auto it = vocab_.find(text); it != vocab_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Only a single character can be left outside the vocabulary: every merge forms a token.
    bool all_bytes = true;
    for (char ch : text) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(ch)].has_value();
    if (all_bytes) {
      for (char ch : text) out.push_back(*byte_ids_[static_cast<uint8_t>(ch)]);
    } else if (unk_id_) {
      out.push_back(*unk_id_);
    } else {
      fail(where_, ": a character outside the vocabulary (\"", text, "\") needs <0xXX> byte tokens or an unknown "
           "token, and the vocabulary has neither");
    }
  }
}

}  // namespace synaptix::model::tokenizer_detail
