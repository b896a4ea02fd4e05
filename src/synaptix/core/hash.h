#pragma once
// Content hashes: SHA-256 (OpenSSL) as lowercase hex, for compile caches, recipes and prefix blocks where a
// collision would be a wrong result; FNV-1a 64 for hash tables where it would only cost time.
#include <cstdint>
#include <string>
#include <string_view>

namespace synaptix {

std::string sha256_hex(std::string_view data);

inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace synaptix
