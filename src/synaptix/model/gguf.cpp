#include "synaptix/model/gguf.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>

#include "synaptix/core/error.h"

namespace synaptix::model {

namespace {

constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;       // nesting of arrays of arrays we follow
constexpr uint64_t kMaxNestedArrays = uint64_t{1} << 16;  // elements of one array of arrays
constexpr uint64_t kDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT
// Fewest bytes an entry can take in the file, to bound counts by what is left before allocating.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;           // key length, 1-char key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name length, name, n_dims, 1 dim, type, offset

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool known_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

bool is_integer_type(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

// Reads little-endian fields from the mapped header, refusing to read past the end.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : p_(data), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  // What is being read, for messages: "metadata key \"general.name\"", "tensor info 3 (\"blk.0.attn_q.weight\")".
  void set_context(std::string c) { context_ = std::move(c); }
  const std::string& context() const { return context_; }

  void need(uint64_t n, const char* field) const {
    if (n > left())
      fail(path_, ": truncated file: ", context_, ": ", field, " needs ", n, " bytes at offset ", pos_, ", only ",
           left(), " left");
  }
  template <typename T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  const uint8_t* take(uint64_t n, const char* field) {
    need(n, field);
    const uint8_t* at = p_ + pos_;
    pos_ += n;
    return at;
  }
  std::string read_string(const char* field) {
    const uint64_t len = read<uint64_t>(field);
    if (len > left())
      fail(path_, ": ", context_, ": ", field, " claims a string of ", len, " bytes at offset ", pos_ - 8,
           ", but only ", left(), " bytes are left in the file");
    const uint8_t* at = take(len, field);
    return std::string(reinterpret_cast<const char*>(at), len);
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
  std::string context_ = "header";
};

GgufValue read_value(Cursor& c, const std::string& path, GgufType type, int depth);

void read_array(Cursor& c, const std::string& path, GgufValue& v, int depth) {
  if (depth >= kMaxArrayDepth)
    fail(path, ": ", c.context(), ": arrays nested deeper than ", kMaxArrayDepth, " levels");
  const uint32_t et = c.read<uint32_t>("array element type");
  if (!known_type(et))
    fail(path, ": ", c.context(), ": unknown array element type ", et, " (expected 0 to 12, a gguf_type)");
  v.elem_type = static_cast<GgufType>(et);
  v.count = c.read<uint64_t>("array length");
  const size_t esize = scalar_size(v.elem_type);
  const uint64_t min_elem = esize ? esize : v.elem_type == GgufType::String ? 8 : 12;
  if (v.count > c.left() / min_elem)
    fail(path, ": ", c.context(), ": array of ", v.count, " ", gguf_type_name(v.elem_type), " elements cannot fit in the ",
         c.left(), " bytes left in the file");
  if (esize) {
    const uint8_t* at = c.take(v.count * esize, "array elements");
    v.raw.assign(at, at + v.count * esize);
    if (v.elem_type == GgufType::Bool)
      for (uint64_t i = 0; i < v.count; ++i)
        if (v.raw[i] > 1) fail(path, ": ", c.context(), ": bool array element ", i, " is ", int(v.raw[i]), ", expected 0 or 1");
  } else if (v.elem_type == GgufType::String) {
    // Reserve no more than the bytes left can back (a string is 8 bytes at least); grow past that as read.
    v.strings.reserve(std::min<uint64_t>(v.count, uint64_t{1} << 20));
    for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(c.read_string("array string"));
  } else {
    // Arrays of arrays cost far more in memory than in the file (12 bytes there, a GgufValue here): no real
    // model has more than a few, so a long one is refused rather than grown without bound.
    if (v.count > kMaxNestedArrays)
      fail(path, ": ", c.context(), ": array of ", v.count, " arrays, expected at most ", kMaxNestedArrays);
    for (uint64_t i = 0; i < v.count; ++i) v.arrays.push_back(read_value(c, path, GgufType::Array, depth + 1));
  }
}

GgufValue read_value(Cursor& c, const std::string& path, GgufType type, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::U8: v.u = c.read<uint8_t>("u8 value"); break;
    case GgufType::U16: v.u = c.read<uint16_t>("u16 value"); break;
    case GgufType::U32: v.u = c.read<uint32_t>("u32 value"); break;
    case GgufType::U64: v.u = c.read<uint64_t>("u64 value"); break;
    case GgufType::I8: v.i = c.read<int8_t>("i8 value"); break;
    case GgufType::I16: v.i = c.read<int16_t>("i16 value"); break;
    case GgufType::I32: v.i = c.read<int32_t>("i32 value"); break;
    case GgufType::I64: v.i = c.read<int64_t>("i64 value"); break;
    case GgufType::F32: v.f = c.read<float>("f32 value"); break;
    case GgufType::F64: v.f = c.read<double>("f64 value"); break;
    case GgufType::Bool: {
      const uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) fail(path, ": ", c.context(), ": bool value is ", int(b), ", expected 0 or 1");
      v.i = b;
      break;
    }
    case GgufType::String: v.s = c.read_string("string value"); break;
    case GgufType::Array: read_array(c, path, v, depth); break;
  }
  if (type == GgufType::U8 || type == GgufType::U16 || type == GgufType::U32 || type == GgufType::U64) {
    if (v.u <= static_cast<uint64_t>(INT64_MAX)) v.i = static_cast<int64_t>(v.u);
  } else if (is_integer_type(type)) {
    v.u = static_cast<uint64_t>(v.i);
  }
  return v;
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
                                      "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "unknown";
}

bool GgufValue::is_integer() const { return is_integer_type(type) || type == GgufType::Bool; }

std::vector<int64_t> GgufTensor::shape() const { return {dims.rbegin(), dims.rend()}; }
std::string GgufTensor::shape_str() const { return dims_str(shape()); }

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char m[4] = {};
  return in.read(m, 4) && std::memcmp(m, "GGUF", 4) == 0;
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
  const std::string& p = file_.path();
  const uint64_t size = file_.size();
  if (size < 4 || std::memcmp(file_.data(), "GGUF", 4) != 0) {
    std::string found;
    for (uint64_t i = 0; i < std::min<uint64_t>(size, 4); ++i) {
      static const char hex[] = "0123456789abcdef";
      found += (i ? " " : "");
      found += hex[file_.data()[i] >> 4];
      found += hex[file_.data()[i] & 15];
    }
    fail(p, ": not a GGUF file: bad magic (found ", size < 4 ? "only " + std::to_string(size) + " bytes" : found,
         ", expected \"GGUF\" = 47 47 55 46)");
  }
  Cursor c(file_.data(), size, p);
  c.take(4, "magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 0x02000000u || version_ == 0x03000000u)
    fail(p, ": big-endian GGUF (version field byte-swapped); only little-endian files are supported");
  if (version_ != 2 && version_ != 3)
    fail(p, ": unsupported GGUF version ", version_, " (expected 2 or 3)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_kv > c.left() / kMinKvBytes)
    fail(p, ": header claims ", n_kv, " metadata entries, which cannot fit in the ", c.left(), " bytes left in the file");
  if (n_tensors > c.left() / kMinTensorInfoBytes)
    fail(p, ": header claims ", n_tensors, " tensors, which cannot fit in the ", c.left(), " bytes left in the file");

  for (uint64_t k = 0; k < n_kv; ++k) {
    c.set_context("metadata entry " + std::to_string(k));
    std::string key = c.read_string("key");
    if (key.empty()) fail(p, ": metadata entry ", k, " has an empty key");
    c.set_context("metadata key \"" + key + "\"");
    const uint32_t t = c.read<uint32_t>("value type");
    if (!known_type(t)) fail(p, ": metadata key \"", key, "\": unknown value type ", t, " (expected 0 to 12, a gguf_type)");
    GgufValue v = read_value(c, p, static_cast<GgufType>(t), 0);
    if (!metadata_.emplace(key, std::move(v)).second) fail(p, ": metadata key \"", key, "\" appears twice");
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!is_integer_type(a->type) || a->type == GgufType::I8 || a->type == GgufType::I16 ||
        a->type == GgufType::I32 || a->type == GgufType::I64)
      fail(p, ": metadata key \"general.alignment\" has type ", gguf_type_name(a->type), ", expected u32");
    if (a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (uint64_t{1} << 30))
      fail(p, ": metadata key \"general.alignment\" is ", a->u, ", expected a power of two (default 32)");
    alignment_ = a->u;
  } else {
    alignment_ = kDefaultAlignment;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    c.set_context("tensor info " + std::to_string(i));
    GgufTensor t;
    t.name = c.read_string("name");
    if (t.name.empty()) fail(p, ": tensor info ", i, " has an empty name");
    const std::string where = p + ": tensor \"" + t.name + "\"";
    c.set_context("tensor \"" + t.name + "\"");
    const uint32_t n_dims = c.read<uint32_t>("n_dims");
    if (n_dims < 1 || n_dims > kMaxDims) fail(where, ": has ", n_dims, " dimensions, expected 1 to ", kMaxDims);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>("dimension");
      if (dim == 0 || dim > static_cast<uint64_t>(INT64_MAX))
        fail(where, ": dimension ", d, " is ", dim, ", expected 1 to 2^63-1");
      t.dims.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, static_cast<int64_t>(dim), &numel))
        fail(where, ": dimensions ", dims_str(t.dims), "... overflow a 64-bit element count");
    }
    t.numel = numel;
    const uint32_t type = c.read<uint32_t>("element type");
    t.format = quant::find_format(type);
    if (!t.format) {
      const auto name = quant::ggml_type_name(type);
      if (name == "unknown")
        fail(where, ": unknown element type id ", type, " (expected one of ", quant::supported_type_names(), ")");
      fail(where, ": element type ", name, " (id ", type, ") is not supported (expected one of ",
           quant::supported_type_names(), ")");
    }
    if (t.dims[0] % t.format->block_elems != 0)
      fail(where, ": row length ", t.dims[0], " is not a multiple of ", t.format->name, "'s block of ",
           t.format->block_elems, " elements");
    const auto nbytes = quant::packed_bytes(*t.format, numel);
    if (!nbytes) fail(where, ": ", t.format->name, " ", dims_str(t.dims), " overflows a 64-bit byte count");
    t.nbytes = *nbytes;
    t.offset = c.read<uint64_t>("data offset");
    if (t.offset % alignment_ != 0)
      fail(where, ": data offset ", t.offset, " is not a multiple of the alignment ", alignment_);
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail(where, " appears twice");
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  const uint64_t end_of_infos = c.pos();
  data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;  // no overflow: both < 2^31 + size
  if (!tensors_.empty() && data_offset_ > size)
    fail(p, ": truncated file: the data section would start at byte ", data_offset_, " but the file has ", size,
         " bytes");
  const uint64_t data_size = size - std::min(size, data_offset_);
  for (GgufTensor& t : tensors_) {
    const uint64_t nb = static_cast<uint64_t>(t.nbytes);
    if (t.offset > data_size || nb > data_size - t.offset)
      fail(p, ": tensor \"", t.name, "\" (", t.format->name, " ", t.shape_str(), ", ", nb,
           " bytes) at data offset ", t.offset, " runs past the end of the file (the data section has ", data_size,
           " bytes; truncated file or wrong offset)");
    t.data = file_.data() + data_offset_ + t.offset;
  }
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensor& a = tensors_[order[k - 1]];
    const GgufTensor& b = tensors_[order[k]];
    if (a.offset + static_cast<uint64_t>(a.nbytes) > b.offset)
      fail(p, ": tensors \"", a.name, "\" (data bytes [", a.offset, ", ", a.offset + static_cast<uint64_t>(a.nbytes),
           ")) and \"", b.name, "\" (from ", b.offset, ") overlap");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<int64_t> GgufFile::find_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!is_integer_type(v->type))
    fail(path(), ": metadata key \"", key, "\" has type ", gguf_type_name(v->type), ", expected an integer");
  if ((v->type == GgufType::U64) && v->u > static_cast<uint64_t>(INT64_MAX))
    fail(path(), ": metadata key \"", key, "\" is ", v->u, ", expected at most 2^63-1");
  return v->i;
}

std::optional<double> GgufFile::find_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_float()) return v->f;
  if (is_integer_type(v->type)) return static_cast<double>(*find_int(key));
  fail(path(), ": metadata key \"", key, "\" has type ", gguf_type_name(v->type), ", expected a number");
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::String)
    fail(path(), ": metadata key \"", key, "\" has type ", gguf_type_name(v->type), ", expected string");
  return v->s;
}

std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::Bool)
    fail(path(), ": metadata key \"", key, "\" has type ", gguf_type_name(v->type), ", expected bool");
  return v->i != 0;
}

int64_t GgufFile::get_int(const std::string& key) const {
  if (auto v = find_int(key)) return *v;
  fail(path(), ": missing metadata key \"", key, "\" (an integer)");
}

double GgufFile::get_float(const std::string& key) const {
  if (auto v = find_float(key)) return *v;
  fail(path(), ": missing metadata key \"", key, "\" (a number)");
}

std::string GgufFile::get_string(const std::string& key) const {
  if (auto v = find_string(key)) return *v;
  fail(path(), ": missing metadata key \"", key, "\" (a string)");
}

namespace {
const GgufValue& array_value(const GgufFile& f, const std::string& key, const char* want) {
  const GgufValue* v = f.find(key);
  if (!v) fail(f.path(), ": missing metadata key \"", key, "\" (an array of ", want, ")");
  if (v->type != GgufType::Array)
    fail(f.path(), ": metadata key \"", key, "\" has type ", gguf_type_name(v->type), ", expected an array of ", want);
  return *v;
}

template <typename T>
T raw_at(const GgufValue& v, uint64_t i) {
  T x;
  std::memcpy(&x, v.raw.data() + i * sizeof(T), sizeof(T));
  return x;
}
}  // namespace

std::vector<int64_t> GgufFile::int_array(const std::string& key) const {
  const GgufValue& v = array_value(*this, key, "integers");
  std::vector<int64_t> out(v.count);
  for (uint64_t i = 0; i < v.count; ++i) {
    switch (v.elem_type) {
      case GgufType::U8: case GgufType::Bool: out[i] = raw_at<uint8_t>(v, i); break;
      case GgufType::I8: out[i] = raw_at<int8_t>(v, i); break;
      case GgufType::U16: out[i] = raw_at<uint16_t>(v, i); break;
      case GgufType::I16: out[i] = raw_at<int16_t>(v, i); break;
      case GgufType::U32: out[i] = raw_at<uint32_t>(v, i); break;
      case GgufType::I32: out[i] = raw_at<int32_t>(v, i); break;
      case GgufType::I64: out[i] = raw_at<int64_t>(v, i); break;
      case GgufType::U64: {
        const uint64_t u = raw_at<uint64_t>(v, i);
        if (u > static_cast<uint64_t>(INT64_MAX))
          fail(path(), ": metadata key \"", key, "\": element ", i, " is ", u, ", expected at most 2^63-1");
        out[i] = static_cast<int64_t>(u);
        break;
      }
      default:
        fail(path(), ": metadata key \"", key, "\" is an array of ", gguf_type_name(v.elem_type), ", expected integers");
    }
  }
  return out;
}

std::vector<float> GgufFile::float_array(const std::string& key) const {
  const GgufValue& v = array_value(*this, key, "numbers");
  if (v.elem_type == GgufType::F32) {
    std::vector<float> out(v.count);
    if (v.count) std::memcpy(out.data(), v.raw.data(), v.count * 4);
    return out;
  }
  if (v.elem_type == GgufType::F64) {
    std::vector<float> out(v.count);
    for (uint64_t i = 0; i < v.count; ++i) out[i] = static_cast<float>(raw_at<double>(v, i));
    return out;
  }
  if (is_integer_type(v.elem_type)) {
    const auto ints = int_array(key);
    return {ints.begin(), ints.end()};
  }
  fail(path(), ": metadata key \"", key, "\" is an array of ", gguf_type_name(v.elem_type), ", expected numbers");
}

const std::vector<std::string>& GgufFile::string_array(const std::string& key) const {
  const GgufValue& v = array_value(*this, key, "strings");
  if (v.elem_type != GgufType::String)
    fail(path(), ": metadata key \"", key, "\" is an array of ", gguf_type_name(v.elem_type), ", expected strings");
  return v.strings;
}

}  // namespace synaptix::model
