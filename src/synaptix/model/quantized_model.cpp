#include "synaptix/model/quantized_model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/weight_quantize.h"

namespace synaptix::model {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'S', 'X', 'Q', 'C'};
constexpr uint32_t kCacheVersion = 1;

// What identifies the weights on disk: each file's path, size and modification time.
std::string model_identity(const Model& m) {
  std::vector<std::string> paths;
  if (m.files.empty()) paths.push_back(m.dir);
  for (const auto& f : m.files) paths.push_back(f->path());
  std::string s;
  for (const auto& p : paths) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    s += fs::absolute(p).string() + ":" + std::to_string(size) + ":" + std::to_string(mtime) + ";";
  }
  return s;
}

struct CachedTensor {
  std::string name;
  DType dtype;
  int64_t rows, k;
  std::vector<uint8_t> bytes;
};

template <class T>
void put(std::ofstream& o, const T& v) { o.write(reinterpret_cast<const char*>(&v), sizeof v); }

// Reads a cache file; an empty vector and a note when it is absent, damaged or not of this recipe's tensors.
std::vector<CachedTensor> read_cache(const std::string& path, const std::map<std::string, DType>& want, std::string* note) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::vector<char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  auto take = [&](void* dst, size_t n) {
    if (all.size() - at < n) return false;
    std::memcpy(dst, all.data() + at, n);
    at += n;
    return true;
  };
  char magic[4];
  uint32_t version = 0;
  uint64_t count = 0;
  std::vector<CachedTensor> out;
  if (!take(magic, 4) || std::memcmp(magic, kMagic, 4) != 0 || !take(&version, 4) || version != kCacheVersion ||
      !take(&count, 8) || count != want.size()) {
    *note = path + ": not a quantized cache of this recipe (header), quantizing again";
    return {};
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    uint8_t dt = 0;
    uint64_t nbytes = 0;
    CachedTensor t;
    if (!take(&len, 4) || len > 4096 || all.size() - at < len) break;
    t.name.assign(all.data() + at, len);
    at += len;
    if (!take(&dt, 1) || !take(&t.rows, 8) || !take(&t.k, 8) || !take(&nbytes, 8) || all.size() - at < nbytes) break;
    t.dtype = static_cast<DType>(dt);
    auto it = want.find(t.name);
    if (it == want.end() || it->second != t.dtype || t.rows <= 0 || t.k <= 0 ||
        static_cast<uint64_t>(t.rows * quant::row_bytes(t.dtype, t.k)) != nbytes)
      break;
    t.bytes.assign(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + nbytes));
    at += nbytes;
    out.push_back(std::move(t));
  }
  if (out.size() != count || at != all.size()) {
    *note = path + ": damaged or of other tensors, quantizing again";
    return {};
  }
  return out;
}

void write_cache(const std::string& path, const std::vector<const TensorRef*>& tensors) {
  fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  {
    std::ofstream o(tmp, std::ios::binary);
    if (!o) fail(tmp, ": cannot write the quantized cache");
    o.write(kMagic, 4);
    put(o, kCacheVersion);
    put(o, static_cast<uint64_t>(tensors.size()));
    for (const TensorRef* t : tensors) {
      put(o, static_cast<uint32_t>(t->name.size()));
      o.write(t->name.data(), static_cast<std::streamsize>(t->name.size()));
      put(o, static_cast<uint8_t>(t->dtype));
      put(o, t->shape[0]);
      put(o, t->shape[1]);
      put(o, static_cast<uint64_t>(t->nbytes));
      o.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(t->nbytes));
    }
    if (!o) fail(tmp, ": writing the quantized cache failed");
  }
  fs::rename(tmp, path);
}

// Puts `bytes` in as the new tensor `name` of `dtype`, points the model's field at it and frees the tensor it
// replaces when the model owned it.
void replace(Model& m, const TensorRef** slot, const std::string& name, DType dtype, std::vector<uint8_t> bytes) {
  const TensorRef* old = *slot;
  auto t = std::make_unique<OwnedTensor>();
  t->bytes = std::move(bytes);
  t->ref.name = name;
  t->ref.dtype = dtype;
  t->ref.shape = old->shape;
  t->ref.data = t->bytes.data();
  t->ref.nbytes = t->bytes.size();
  t->ref.file = m.dir + " (quantized to " + std::string(dtype_name(dtype)) + ")";
  *slot = &t->ref;
  std::erase_if(m.owned, [&](const std::unique_ptr<OwnedTensor>& o) { return &o->ref == old; });
  m.owned.push_back(std::move(t));
}

}  // namespace

std::map<std::string, DType> op_weight_dtypes(const quant::QuantRecipe& r, int64_t layers, DType loaded);

namespace {

// The formats as the tuner's graph sees the model (Spec::weight_dtypes), by the dtype the projections were
// loaded in.
void record_formats(Model& m, const quant::QuantRecipe& r) {
  DType loaded = m.spec.dtype;
  for (const auto& [name, slot] : quantizable_matrices(m))
    if (!r.tensors.count(name)) {
      loaded = (*slot)->dtype;
      break;
    }
  for (const auto& [op, d] : op_weight_dtypes(r, static_cast<int64_t>(m.layers.size()), loaded)) m.spec.weight_dtypes[op] = d;
}

}  // namespace

std::map<std::string, const TensorRef**> quantizable_matrices(Model& m) {
  std::map<std::string, const TensorRef**> out;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    LayerWeights& L = m.layers[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const std::pair<const char*, const TensorRef**> fields[] = {
        {"self_attn.q_proj.weight", &L.q}, {"self_attn.k_proj.weight", &L.k}, {"self_attn.v_proj.weight", &L.v},
        {"self_attn.o_proj.weight", &L.o}, {"mlp.gate_proj.weight", &L.gate}, {"mlp.up_proj.weight", &L.up},
        {"mlp.down_proj.weight", &L.down}};
    for (const auto& [n, slot] : fields)
      if (*slot) out[p + n] = slot;
    for (size_t e = 0; e < L.experts.size(); ++e) {
      const std::string ep = p + "mlp.experts." + std::to_string(e) + ".";
      out[ep + "gate_proj.weight"] = &L.experts[e].gate;
      out[ep + "up_proj.weight"] = &L.experts[e].up;
      out[ep + "down_proj.weight"] = &L.experts[e].down;
    }
  }
  return out;
}

std::map<std::string, DType> op_weight_dtypes(const quant::QuantRecipe& r, int64_t layers, DType loaded) {
  // "model.layers.N.<path>.weight" -> "layers.*.<path>", experts' index as "*" too.
  std::map<std::string, std::map<DType, int64_t>> votes;
  for (const auto& [name, d] : r.tensors) {
    const std::string pre = "model.layers.", suf = ".weight";
    if (name.rfind(pre, 0) != 0 || name.size() <= pre.size() + suf.size() ||
        name.compare(name.size() - suf.size(), suf.size(), suf) != 0)
      continue;
    std::string rest = name.substr(pre.size(), name.size() - pre.size() - suf.size());
    const size_t dot = rest.find('.');
    if (dot == std::string::npos) continue;
    std::string op = "layers.*" + rest.substr(dot);
    if (const size_t e = op.find(".experts."); e != std::string::npos) {
      const size_t b = e + 9, end = op.find('.', b);
      if (end != std::string::npos) op.replace(b, end - b, "*");
    }
    ++votes[op][d];
  }
  if (votes.count("layers.*.mlp.gate_proj")) votes["layers.*.mlp.gate_up_silu"] = votes["layers.*.mlp.gate_proj"];
  std::map<std::string, DType> out;
  for (auto& [op, v] : votes) {
    int64_t named = 0;
    for (const auto& [d, c] : v) named += c;
    if (op.find(".experts.") == std::string::npos && named < layers) v[loaded] += layers - named;
    const auto best = std::max_element(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    if (best->first != loaded) out[op] = best->first;
  }
  return out;
}

std::vector<float> matrix_f32(const TensorRef& t) {
  const int64_t n = t.shape.at(0), k = t.shape.size() > 1 ? t.shape[1] : 1;
  std::vector<float> v(static_cast<size_t>(n * k));
  const auto* src = static_cast<const uint8_t*>(t.data);
  if (const quant::WeightFormat* f = quant::weight_format(t.dtype)) {
    quant::dequantize_rows(*f, src, n, k, v.data());
  } else if (const quant::BlockFormat* b = quant::block_format(t.dtype)) {
    quant::dequantize_f32(*b, src, n * k, v.data());
  } else if (t.dtype == DType::F32) {
    std::memcpy(v.data(), src, v.size() * 4);
  } else if (t.dtype == DType::BF16 || t.dtype == DType::F16) {
    const auto* h = reinterpret_cast<const uint16_t*>(src);
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.dtype == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
  } else {
    fail(t.file, ": tensor ", t.name, " is ", dtype_name(t.dtype), ", which cannot be quantized (expected f32, bf16, f16 or a block type)");
  }
  return v;
}

std::string quant_cache_file(const Model& m, const quant::QuantRecipe& r, const std::string& cache_dir) {
  // The loaded dtypes of the recipe's tensors too: a GGUF file loaded as stored or expanded to bf16 gives
  // different values to quantize.
  std::string loaded;
  for (const auto& [name, slot] : quantizable_matrices(const_cast<Model&>(m)))
    if (r.tensors.count(name)) loaded += std::string(dtype_name((*slot)->dtype)) + ",";
  const std::string key = sha256_hex(model_identity(m) + "|" + quant::recipe_identity(r) + "|" + loaded + "|layout=1");
  return (fs::path(cache_dir) / ("quant-" + key.substr(0, 32) + ".bin")).string();
}

QuantApplied apply_quant_recipe(Model& m, const quant::QuantRecipe& r, const std::string& cache_dir,
                                const TensorQuantizer& quantizer) {
  auto slots = quantizable_matrices(m);
  QuantApplied out;
  for (const auto& [name, dtype] : r.tensors) {
    auto it = slots.find(name);
    if (it == slots.end())
      fail(m.dir, ": the quantization recipe names \"", name, "\", which is not a quantizable matrix of this model ",
           "(the layers' attention and MLP projections: model.layers.N.self_attn.q_proj.weight, ...)");
    const TensorRef& t = **it->second;
    if (t.shape.size() != 2) fail(m.dir, ": tensor ", name, " has shape ", t.shape_str(), " (expected a matrix)");
    try {
      quant::row_bytes(dtype, t.shape[1]);
    } catch (const Error& e) {
      fail(m.dir, ": tensor ", name, " [", t.shape[0], ", ", t.shape[1], "]: ", e.what());
    }
    out.bytes_before += static_cast<int64_t>(t.nbytes);
  }
  if (!cache_dir.empty()) {
    out.cache_file = quant_cache_file(m, r, cache_dir);
    auto cached = read_cache(out.cache_file, r.tensors, &out.note);
    bool shapes_match = !cached.empty();
    for (const auto& c : cached) {
      const TensorRef& t = **slots.at(c.name);
      shapes_match = shapes_match && t.shape[0] == c.rows && t.shape[1] == c.k;
    }
    if (shapes_match) {
      for (auto& c : cached) {
        replace(m, slots.at(c.name), c.name, c.dtype, std::move(c.bytes));
        out.bytes_after += static_cast<int64_t>((*slots.at(c.name))->nbytes);
      }
      out.tensors = static_cast<int64_t>(cached.size());
      out.from_cache = true;
      record_formats(m, r);
      return out;
    }
  }
  if (r.method != "rtn" && !quantizer)
    fail(m.dir, ": the recipe's ", r.method, " codes are not in the quantized cache",
         cache_dir.empty() ? "" : " (" + out.cache_file + ")", "; run `synaptix quantize` again to calibrate them");
  std::vector<const TensorRef*> done;
  for (const auto& [name, dtype] : r.tensors) {
    const TensorRef** slot = slots.at(name);
    const int64_t n = (*slot)->shape[0], k = (*slot)->shape[1];
    const quant::WeightFormat& f = *quant::weight_format(dtype);
    const std::vector<float> w = matrix_f32(**slot);
    std::vector<uint8_t> bytes(static_cast<size_t>(n * quant::row_bytes(dtype, k)));
    if (quantizer) quantizer(name, f, w.data(), n, k, bytes.data());
    else quant::quantize_rows(f, w.data(), n, k, bytes.data());
    replace(m, slot, name, dtype, std::move(bytes));
    out.bytes_after += static_cast<int64_t>((*slot)->nbytes);
    done.push_back(*slot);
    ++out.tensors;
  }
  if (!cache_dir.empty()) write_cache(out.cache_file, done);
  record_formats(m, r);
  return out;
}

}  // namespace synaptix::model
