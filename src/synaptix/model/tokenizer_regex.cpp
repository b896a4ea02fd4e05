// PCRE2 wrapper for the tokenizer's Unicode regexes (pre-tokenizer splits, Replace patterns). The patterns in
// tokenizer.json are written for Oniguruma; the ones models use (\p{L}, \p{N}, (?i:...), (?!\S)) mean the
// same in PCRE2 with UTF and UCP on.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model::tokenizer_detail {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

struct MatchData {
  pcre2_match_data* md;
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(md); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};

}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& where) : where_(where) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // PCRE2_LITERAL allows only a few options alongside it; UCP is meaningless for a literal anyway.
  uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err,
                                   &err_off, nullptr);
  if (!code) {
    fail(where, ": cannot compile regex \"", pattern, "\" at offset ", err_off, ": ", pcre2_message(err));
  }
  // JIT is a speed-up only; the interpreter gives the same matches when JIT is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchData data(code);
  std::vector<std::pair<size_t, size_t>> out;
  size_t pos = 0;
  uint32_t opts = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, opts, data.md,
                         nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail(where_, ": regex match failed: ", pcre2_message(rc));
    opts = PCRE2_NO_UTF_CHECK;  // checked once on the first call; rechecking each call would be quadratic
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t b = ov[0], e = ov[1];
    if (e == b) {
      // Empty match: it splits nothing, so skip it and step one character on.
      if (b >= text.size()) break;
      pos = b + utf8_char_len(text, b);
      continue;
    }
    out.emplace_back(b, e);
    pos = e;
  }
  return out;
}

}  // namespace synaptix::model::tokenizer_detail
