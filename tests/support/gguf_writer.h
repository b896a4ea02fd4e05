#pragma once
// Writes small GGUF files for tests, byte by byte as the format specifies (header, key/values, tensor infos,
// aligned data), with hooks to write them wrong on purpose: any value type id, any tensor offset or type id.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace synaptix::test {

class GgufWriter {
 public:
  enum Type : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64 };

  uint32_t version = 3;
  uint64_t alignment = 32;  // for laying out the data; write general.alignment yourself to change it

  // Key/values. `value` is the encoded value (after the type).
  void kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
    std::vector<uint8_t> b;
    put_str(b, key);
    put(b, type);
    b.insert(b.end(), value.begin(), value.end());
    kvs_.push_back(b);
  }
  void kv_u32(const std::string& k, uint32_t v) { kv_raw(k, U32, enc(v)); }
  void kv_i32(const std::string& k, int32_t v) { kv_raw(k, I32, enc(v)); }
  void kv_u64(const std::string& k, uint64_t v) { kv_raw(k, U64, enc(v)); }
  void kv_f32(const std::string& k, float v) { kv_raw(k, F32, enc(v)); }
  void kv_bool(const std::string& k, bool v) { kv_raw(k, Bool, {uint8_t(v)}); }
  void kv_str(const std::string& k, const std::string& v) {
    std::vector<uint8_t> b;
    put_str(b, v);
    kv_raw(k, String, b);
  }
  void kv_strs(const std::string& k, const std::vector<std::string>& v) {
    std::vector<uint8_t> b;
    put(b, uint32_t{String});
    put(b, uint64_t(v.size()));
    for (const auto& s : v) put_str(b, s);
    kv_raw(k, Array, b);
  }
  template <typename T>
  void kv_array(const std::string& k, uint32_t elem_type, const std::vector<T>& v) {
    std::vector<uint8_t> b;
    put(b, elem_type);
    put(b, uint64_t(v.size()));
    for (const T& x : v) put(b, x);
    kv_raw(k, Array, b);
  }

  // Tensors: dims in GGUF order (dims[0] contiguous). `data` is laid out at the next aligned offset; the info
  // claims `offset_override` instead when given.
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    std::vector<uint8_t> data;
    std::optional<uint64_t> offset_override;
  };
  Tensor& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, std::vector<uint8_t> data) {
    tensors_.push_back({name, std::move(dims), type, std::move(data), std::nullopt});
    return tensors_.back();
  }
  // An F32 tensor of the given values.
  Tensor& tensor_f32(const std::string& name, std::vector<uint64_t> dims, const std::vector<float>& v) {
    std::vector<uint8_t> d(v.size() * 4);
    std::memcpy(d.data(), v.data(), d.size());
    return tensor(name, std::move(dims), 0 /* ggml F32 */, std::move(d));
  }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> b = {'G', 'G', 'U', 'F'};
    put(b, version);
    put(b, uint64_t(tensors_.size()));
    put(b, uint64_t(kvs_.size()));
    for (const auto& kv : kvs_) b.insert(b.end(), kv.begin(), kv.end());
    std::vector<uint64_t> offsets;
    uint64_t at = 0;
    for (const auto& t : tensors_) {
      offsets.push_back(at);
      at = align(at + t.data.size());
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Tensor& t = tensors_[i];
      put_str(b, t.name);
      put(b, uint32_t(t.dims.size()));
      for (uint64_t d : t.dims) put(b, d);
      put(b, t.type);
      put(b, t.offset_override.value_or(offsets[i]));
    }
    b.resize(align(b.size()), 0);
    const size_t data_start = b.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      b.resize(data_start + offsets[i], 0);
      b.insert(b.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    }
    return b;
  }

  static void save(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  void save(const std::string& path) const { save(path, bytes()); }

  template <typename T>
  static std::vector<uint8_t> enc(T v) {
    std::vector<uint8_t> b;
    put(b, v);
    return b;
  }
  template <typename T>
  static void put(std::vector<uint8_t>& b, T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
  }
  static void put_str(std::vector<uint8_t>& b, const std::string& s) {
    put(b, uint64_t(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }

 private:
  uint64_t align(uint64_t x) const { return (x + alignment - 1) / alignment * alignment; }
  std::vector<std::vector<uint8_t>> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace synaptix::test
