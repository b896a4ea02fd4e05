#pragma once
// GGUF container reader (versions 2 and 3): header, key/value metadata, tensor infos and the aligned data
// section, memory-mapped. Everything is validated before use with overflow-checked arithmetic: counts and
// lengths against the bytes left in the file, dimension products, tensor offsets (aligned, inside the file,
// not overlapping) and element types (only those quant/ can dequantize). Errors name the file, the key or
// tensor, what was found and what was expected.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "synaptix/core/mapped_file.h"
#include "synaptix/quant/block_format.h"

namespace synaptix::model {

// GGUF metadata value types (gguf.h's enum gguf_type).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars are widened on read (integers to int64 or uint64, floats to double); arrays of
// numbers keep their raw little-endian bytes (so a 262144-entry array costs what it costs in the file),
// arrays of strings are strings, arrays of arrays are values.
struct GgufValue {
  GgufType type = GgufType::U8;
  int64_t i = 0;   // signed integer types and bool
  uint64_t u = 0;  // unsigned integer types (also mirrored into i when it fits)
  double f = 0;    // F32, F64
  std::string s;   // String
  // Array
  GgufType elem_type = GgufType::U8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;            // numeric and bool elements
  std::vector<std::string> strings;    // string elements
  std::vector<GgufValue> arrays;       // nested arrays

  bool is_integer() const;  // any integer type or bool
  bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the contiguous (row) dimension
  const quant::BlockFormat* format = nullptr;
  uint64_t offset = 0;  // from the start of the data section
  int64_t numel = 0;
  int64_t nbytes = 0;
  const uint8_t* data = nullptr;

  // Row-major shape as PyTorch and safetensors write it: dims reversed ([rows, cols] for a matrix).
  std::vector<int64_t> shape() const;
  std::string shape_str() const;
};

class GgufFile {
 public:
  // Maps and validates the whole header; throws synaptix::Error naming `path` and what was wrong.
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section in the file

  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  // Typed look-ups; a present key of the wrong type throws naming the key, the type found and the one
  // expected. get_* throw when the key is absent.
  std::optional<int64_t> find_int(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;  // accepts integers too
  std::optional<std::string> find_string(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  // Arrays: integer arrays (any integer element type) as int64, float arrays as float, string arrays.
  std::vector<int64_t> int_array(const std::string& key) const;
  std::vector<float> float_array(const std::string& key) const;
  const std::vector<std::string>& string_array(const std::string& key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // in file order
  const GgufTensor* find_tensor(const std::string& name) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// True when the file starts with the GGUF magic (cheap: reads 4 bytes).
bool has_gguf_magic(const std::string& path);

}  // namespace synaptix::model
