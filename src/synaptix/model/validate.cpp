#include "synaptix/model/validate.h"

#include <algorithm>
#include <cmath>

#include "synaptix/core/error.h"

namespace synaptix::model {

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& where, const char* what) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail(where, ": ", what, " overflows 64 bits (", a, " * ", b, ")");
  return r;
}

uint64_t checked_add(uint64_t a, uint64_t b, const std::string& where, const char* what) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail(where, ": ", what, " overflows 64 bits (", a, " + ", b, ")");
  return r;
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t checked_numel(std::span<const int64_t> shape, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(where, ": shape ", shape_string(shape), " has a negative dimension");
    if (__builtin_mul_overflow(n, d, &n))
      fail(where, ": shape ", shape_string(shape), " has more elements than fit in 64 bits");
  }
  return n;
}

uint64_t checked_nbytes(std::span<const int64_t> shape, uint64_t element_bytes, const std::string& where) {
  const auto n = static_cast<uint64_t>(checked_numel(shape, where));
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, element_bytes, &bytes))
    fail(where, ": shape ", shape_string(shape), " of ", element_bytes, "-byte elements has more bytes than fit in 64 bits");
  return bytes;
}

void check_byte_ranges(std::vector<ByteRange> ranges, uint64_t data_size, uint64_t data_offset,
                       const std::string& file) {
  for (const ByteRange& r : ranges) {
    if (r.begin > r.end || r.end > data_size)
      fail(file, ": tensor \"", r.name, "\": byte range [", r.begin, ", ", r.end, ") does not lie within the ",
           data_size, " data bytes (expected begin <= end <= ", data_size, "; truncated file?)");
    const uint64_t align = std::max<uint64_t>(r.alignment, 1);
    if ((data_offset + r.begin) % align != 0)
      fail(file, ": tensor \"", r.name, "\": data starts at file offset ", data_offset + r.begin,
           ", which is not a multiple of ", align, " (its element alignment)");
  }
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const ByteRange* prev = nullptr;  // the non-empty range reaching furthest so far
  for (const ByteRange& r : ranges) {
    if (r.begin == r.end) continue;  // an empty tensor owns no bytes
    if (prev && r.begin < prev->end)
      fail(file, ": tensors \"", prev->name, "\" [", prev->begin, ", ", prev->end, ") and \"", r.name, "\" [", r.begin,
           ", ", r.end, ") overlap (expected every tensor to own its bytes)");
    if (!prev || r.end > prev->end) prev = &r;
  }
}

double check_finite(double v, const std::string& where, const std::string& key) {
  if (!std::isfinite(v)) fail(where, ": key \"", key, "\" is ", v, ", expected a finite number");
  return v;
}

double check_positive(double v, const std::string& where, const std::string& key) {
  if (!std::isfinite(v) || !(v > 0)) fail(where, ": key \"", key, "\" is ", v, ", expected a finite number > 0");
  return v;
}

double check_non_negative(double v, const std::string& where, const std::string& key) {
  if (!std::isfinite(v) || v < 0) fail(where, ": key \"", key, "\" is ", v, ", expected a finite number >= 0");
  return v;
}

int64_t check_int_bounds(int64_t v, int64_t lo, int64_t hi, const std::string& where, const std::string& key) {
  if (v < lo || v > hi) fail(where, ": key \"", key, "\" is ", v, ", expected ", lo, "..", hi);
  return v;
}

void check_token_id(int64_t id, int64_t vocab_size, const std::string& where, const std::string& what) {
  if (id < 0 || id >= vocab_size)
    fail(where, ": ", what, " ", id, " is outside the vocabulary (expected 0 <= id < ", vocab_size, ")");
}

void check_token_ids(std::span<const int32_t> ids, int64_t vocab_size, const std::string& where) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size)
      check_token_id(ids[i], vocab_size, where, "token id at position " + std::to_string(i));
  }
}

}  // namespace synaptix::model
