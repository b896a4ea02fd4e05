#include "synaptix/model/safetensors.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/model/validate.h"

namespace synaptix::model {

using nlohmann::json;

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return checked_numel(shape, file + ": tensor \"" + name + "\"");
  }
  return n;
}

std::string TensorRef::shape_str() const { return shape_string(shape); }

namespace {

// The reference implementation refuses headers above 100 MB; a real header is a few hundred kilobytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const size_t size = file_.size();
  if (size < 8) fail(path, ": truncated safetensors file (", size, " bytes, expected at least an 8-byte header length)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_.data(), 8);  // little-endian on every target we build for
  if (header_len > size - 8)
    fail(path, ": truncated safetensors file (header claims ", header_len, " bytes, file has ", size - 8, " after the length)");
  if (header_len > kMaxHeaderBytes)
    fail(path, ": safetensors header of ", header_len, " bytes is larger than the ", kMaxHeaderBytes, " allowed");
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(file_.data()) + 8,
                         reinterpret_cast<const char*>(file_.data()) + 8 + header_len);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    fail(path, ": safetensors header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) fail(path, ": safetensors header must be a JSON object");
  const uint8_t* base = file_.data() + 8 + header_len;
  const size_t data_size = size - 8 - header_len;
  std::vector<ByteRange> ranges;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      fail(path, ": tensor \"", name, "\": header entry must have dtype, shape and data_offsets");
    TensorRef t;
    t.name = name;
    t.file = path;
    const std::string where = path + ": tensor \"" + name + "\"";
    const std::string dt = info["dtype"].is_string() ? info["dtype"].get<std::string>() : "";
    if (!parse_dtype(dt, &t.dtype) || dtype_size(t.dtype) == 0)
      fail(where, " has unsupported dtype \"", dt, "\"");
    if (!info["shape"].is_array()) fail(where, ": shape must be a list");
    for (const auto& d : info["shape"]) {
      if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0) ||
          (d.is_number_unsigned() && d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
        fail(where, ": bad shape entry ", d.dump(), " (expected a non-negative integer)");
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = info["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(where, ": data_offsets must be two non-negative integers");
    const uint64_t b = off[0], e = off[1];
    if (b > e || e > data_size)
      fail(where, ": data_offsets [", b, ", ", e, "] lie outside the ", data_size, " data bytes (truncated file?)");
    t.nbytes = e - b;
    const uint64_t want = checked_nbytes(t.shape, dtype_size(t.dtype), where);
    if (want != t.nbytes)
      fail(where, ": shape ", t.shape_str(), " of ", dtype_name(t.dtype), " needs ", want,
           " bytes but data_offsets give ", t.nbytes);
    t.data = base + b;
    ranges.push_back({name, b, e, dtype_size(t.dtype)});
    tensors_.emplace(name, std::move(t));
  }
  // Tensors are read in place through typed pointers: each must own its bytes and start aligned for its dtype.
  check_byte_ranges(std::move(ranges), data_size, 8 + header_len, path);
}

const TensorRef* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    static const std::map<DType, const char*> kNames = {
        {DType::F32, "F32"}, {DType::BF16, "BF16"}, {DType::F16, "F16"}, {DType::I32, "I32"},
        {DType::I64, "I64"}, {DType::I8, "I8"}, {DType::U8, "U8"}};
    auto it = kNames.find(t.dtype);
    if (it == kNames.end()) fail(path, ": cannot write tensor \"", name, "\" of dtype ", dtype_name(t.dtype));
    header[name] = {{"dtype", it->second}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the reference writer does
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, ": cannot open for writing");
  uint64_t len = h.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out) fail(path, ": write failed (disk full?)");
}

}  // namespace synaptix::model
