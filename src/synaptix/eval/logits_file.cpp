#include "synaptix/eval/logits_file.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"

namespace synaptix::eval {
namespace {
constexpr char kMagic[8] = {'S', 'X', 'L', 'O', 'G', 'I', 'T', 'S'};
}

std::string targets_sha256(std::span<const int32_t> targets) {
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(targets.data()), targets.size_bytes()));
}

LogitsWriter::LogitsWriter(const std::string& path, const LogitsHeader& h)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc), expected_(h.tokens * h.vocab) {
  if (!out_) fail(path, ": cannot open for writing");
  std::string header = nlohmann::json{{"format", kLogitsFormat},   {"vocab", h.vocab},
                                            {"tokens", h.tokens},        {"ctx", h.ctx},
                                            {"targets_sha256", h.targets_sha256}, {"model", h.model}}
                                 .dump();
  header.resize((header.size() + 7) / 8 * 8, ' ');  // rows start 8-byte aligned in a memory map
  const uint64_t len = header.size();
  out_.write(kMagic, sizeof kMagic);
  out_.write(reinterpret_cast<const char*>(&len), sizeof len);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
}

void LogitsWriter::append(std::span<const float> rows) {
  out_.write(reinterpret_cast<const char*>(rows.data()), static_cast<std::streamsize>(rows.size_bytes()));
  written_ += static_cast<int64_t>(rows.size());
  if (!out_) fail(path_, ": write failed (disk full?)");
}

void LogitsWriter::close() {
  out_.close();
  if (!out_) fail(path_, ": write failed");
  if (written_ != expected_) fail(path_, ": wrote ", written_, " logits, the header promised ", expected_);
}

LogitsReader::LogitsReader(const std::string& path) : file_(path) {
  const uint8_t* p = file_.data();
  const size_t n = file_.size();
  if (n < 16 || std::memcmp(p, kMagic, sizeof kMagic) != 0)
    fail(path, ": not a logits file (expected it to start with \"SXLOGITS\", as --save-logits writes)");
  uint64_t len = 0;
  std::memcpy(&len, p + 8, sizeof len);
  if (len > n - 16) fail(path, ": header length ", len, " runs past the file's end (", n, " bytes)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(reinterpret_cast<const char*>(p + 16), reinterpret_cast<const char*>(p + 16 + len));
    if (j.at("format").get<std::string>() != kLogitsFormat)
      fail(path, ": format \"", j.at("format").get<std::string>(), "\", expected \"", kLogitsFormat, "\"");
    h_.vocab = j.at("vocab").get<int64_t>();
    h_.tokens = j.at("tokens").get<int64_t>();
    h_.ctx = j.at("ctx").get<int64_t>();
    h_.targets_sha256 = j.at("targets_sha256").get<std::string>();
    h_.model = j.value("model", "");
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": malformed header (", e.what(), "); expected the JSON header --save-logits writes");
  }
  data_offset_ = 16 + len;
  if (data_offset_ % alignof(float) != 0) fail(path, ": header length ", len, " leaves the rows unaligned");
  if (h_.vocab <= 0 || h_.tokens < 0 ||
      (n - data_offset_) / sizeof(float) / static_cast<uint64_t>(h_.vocab) != static_cast<uint64_t>(h_.tokens) ||
      (n - data_offset_) % (sizeof(float) * static_cast<uint64_t>(h_.vocab)) != 0)
    fail(path, ": ", n - data_offset_, " bytes of logits, expected ", h_.tokens, " x ", h_.vocab, " f32");
}

std::span<const float> LogitsReader::row(int64_t i) const {
  if (i < 0 || i >= h_.tokens) fail(path(), ": row ", i, " out of ", h_.tokens);
  const auto* base = reinterpret_cast<const float*>(file_.data() + data_offset_);
  return {base + i * h_.vocab, static_cast<size_t>(h_.vocab)};
}

}  // namespace synaptix::eval
