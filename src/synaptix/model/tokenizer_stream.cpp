// Streaming decode. Each push decodes a short window (a few already-emitted context ids plus the new ones)
// and emits what the new ids add beyond the context's own text. The context keeps decoders that look at
// neighbours (Strip of a leading space, byte runs) seeing the same surroundings as a full decode. Text
// ending in U+FFFD is held back: it is usually a multi-byte character whose remaining bytes are still to come.
#include "synaptix/model/tokenizer.h"

namespace synaptix::model {
namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

DecodeStream::DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tok_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string DecodeStream::push(int32_t id) {
  if (id < 0 || id >= tok_->vocab_size()) {
    // Check before touching the window so a bad id leaves the stream usable.
    tok_->decode(std::span<const int32_t>(&id, 1), skip_special_);
  }
  ids_.push_back(id);
  std::string text = tok_->decode(ids_, skip_special_);
  if (ends_with_replacement(text) || text.size() <= prefix_text_.size()) return "";
  std::string out;
  if (text.compare(0, prefix_text_.size(), prefix_text_) == 0) {
    out = text.substr(prefix_text_.size());
  } else {
    // The context decoded differently in a longer window (not seen with the supported decoders): emit the
    // part after the common prefix rather than nothing.
    size_t common = 0;
    while (common < prefix_text_.size() && common < text.size() && text[common] == prefix_text_[common]) ++common;
    out = text.substr(common);
  }
  // The ids just emitted become the context of the next window.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_ids_));
  prefix_ids_ = ids_.size();
  prefix_text_ = tok_->decode(ids_, skip_special_);
  return out;
}

std::string DecodeStream::flush() {
  std::string text = tok_->decode(ids_, skip_special_);
  std::string out = text.size() > prefix_text_.size() ? text.substr(prefix_text_.size()) : "";
  ids_.clear();
  prefix_ids_ = 0;
  prefix_text_.clear();
  return out;
}

}  // namespace synaptix::model
