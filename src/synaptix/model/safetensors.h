#pragma once
// safetensors reader: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then the data. Tensors are views into the memory map.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/core/mapped_file.h"

namespace synaptix::model {

struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // where it came from, for error messages

  int64_t numel() const;
  std::string shape_str() const;
};

class SafetensorsFile {
 public:
  // Validates the header (sizes, offsets within the file, dtype names, shape x dtype = byte count) and
  // throws synaptix::Error naming the file and the offending tensor or field.
  explicit SafetensorsFile(const std::string& path);
  const std::map<std::string, TensorRef>& tensors() const { return tensors_; }
  const TensorRef* find(const std::string& name) const;
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  std::map<std::string, TensorRef> tensors_;
};

// Writes tensors (name -> dtype, shape, bytes) as a safetensors file.
struct TensorData {
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors);

}  // namespace synaptix::model
