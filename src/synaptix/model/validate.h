#pragma once
// Checks every model-file loader shares (safetensors, GGUF, config.json, tokenizer.json): products of
// dimensions without overflow, byte ranges inside the data and neither overlapping nor misaligned, numbers that
// must be finite and positive, integers inside a stated bound and token ids inside the vocabulary. They run
// before anything proportional to a value read from the file is allocated. Each throws synaptix::Error whose
// message starts with `where` (the file, and the tensor or key) and says what was found and what was expected.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace synaptix::model {

// a * b and a + b, or an error "<where>: <what> overflows (a * b)".
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where, const char* what);
uint64_t checked_add(uint64_t a, uint64_t b, const std::string& where, const char* what);

// The element count of `shape` (1 for a scalar). Refuses negative dimensions and counts above INT64_MAX.
int64_t checked_numel(std::span<const int64_t> shape, const std::string& where);
// The byte size of `shape` with `element_bytes` per element, refusing overflow of 64 bits.
uint64_t checked_nbytes(std::span<const int64_t> shape, uint64_t element_bytes, const std::string& where);
// "[a, b, c]", for messages.
std::string shape_string(std::span<const int64_t> shape);

// A tensor's bytes within a file's data section: [begin, end), relative to the start of that section.
struct ByteRange {
  std::string name;        // the tensor, for messages
  uint64_t begin = 0, end = 0;
  uint64_t alignment = 1;  // begin (plus the section's offset in the file) must be a multiple of this
};

// Every range has begin <= end <= data_size, begins at an offset (data_offset + begin) that is a multiple of
// its alignment, and no two non-empty ranges share a byte. `file` names the file in errors. Sorts a copy:
// O(n log n) in the number of ranges.
void check_byte_ranges(std::vector<ByteRange> ranges, uint64_t data_size, uint64_t data_offset,
                       const std::string& file);

// "<where>: key \"<key>\" is <v>, expected a finite number > 0" (or >= 0 for the non-negative form).
double check_positive(double v, const std::string& where, const std::string& key);
double check_non_negative(double v, const std::string& where, const std::string& key);
double check_finite(double v, const std::string& where, const std::string& key);

// lo <= v <= hi, or "<where>: key \"<key>\" is <v>, expected <lo>..<hi>" (the bound is in the message, so a
// user with a genuinely larger model knows which limit they hit).
int64_t check_int_bounds(int64_t v, int64_t lo, int64_t hi, const std::string& where, const std::string& key);

// 0 <= id < vocab_size, or "<where>: <what> <id> is outside the vocabulary (expected 0 <= id < vocab_size)".
void check_token_id(int64_t id, int64_t vocab_size, const std::string& where, const std::string& what);
void check_token_ids(std::span<const int32_t> ids, int64_t vocab_size, const std::string& where);

}  // namespace synaptix::model
