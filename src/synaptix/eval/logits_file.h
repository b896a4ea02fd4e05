#pragma once
// The scored rows of a perplexity run saved for a later KL comparison (--save-logits / --reference-logits):
// "SXLOGITS" (8 bytes), a little-endian u64 header length, a JSON header {format, vocab, tokens, ctx,
// targets_sha256, model}, then tokens x vocab f32 logits, row after row. The header's hash of the scored
// target ids lets a comparison refuse a file made from other text, another tokenizer or another --ctx.
// Size: 4 x vocab bytes per scored token (a 49k vocabulary: ~200 KB a token, ~50 MB a 512-token window).
#include <cstdint>
#include <fstream>
#include <span>
#include <string>

#include "synaptix/core/mapped_file.h"

namespace synaptix::eval {

inline constexpr const char* kLogitsFormat = "synaptix-logits/1";

struct LogitsHeader {
  int64_t vocab = 0, tokens = 0, ctx = 0;
  std::string targets_sha256, model;
};

// SHA-256 of the target ids as little-endian int32 bytes.
std::string targets_sha256(std::span<const int32_t> targets);

class LogitsWriter {
 public:
  LogitsWriter(const std::string& path, const LogitsHeader& h);  // throws naming the path
  void append(std::span<const float> rows);
  void close();  // throws when fewer or more rows than the header's were written

 private:
  std::string path_;
  std::ofstream out_;
  int64_t expected_ = 0, written_ = 0;
};

class LogitsReader {
 public:
  explicit LogitsReader(const std::string& path);  // throws naming the path and what is malformed
  const LogitsHeader& header() const { return h_; }
  std::span<const float> row(int64_t i) const;
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  LogitsHeader h_;
  size_t data_offset_ = 0;
};

}  // namespace synaptix::eval
