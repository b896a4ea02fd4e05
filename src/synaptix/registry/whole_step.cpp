#include "synaptix/registry/whole_step.h"

#include <algorithm>
#include <initializer_list>

#include "synaptix/core/error.h"

namespace synaptix::registry {
namespace {

using nlohmann::json;

// Refuses keys outside `known`: a misspelt key would otherwise leave the default in place unnoticed.
void only_keys(const json& j, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& [k, v] : j.items()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* x) { return k == x; })) {
      std::string list;
      for (const char* x : known) list += std::string(list.empty() ? "" : ", ") + x;
      fail(where, ": unknown key \"", k, "\" (expected one of ", list, ")");
    }
  }
}

const json& object_at(const json& j, const char* key, const std::string& where) {
  const json& v = j.at(key);
  if (!v.is_object()) fail(where, ".", key, " is ", v.type_name(), ", expected an object");
  return v;
}

bool bool_at(const json& j, const char* key, const std::string& where) {
  const json& v = j.at(key);
  if (!v.is_boolean()) fail(where, ".", key, " is ", v.dump(), ", expected true or false");
  return v.get<bool>();
}

int64_t int_at(const json& j, const char* key, int64_t lo, int64_t hi, const std::string& where) {
  if (!j.contains(key)) fail(where, ": missing key \"", key, "\"");
  const json& v = j.at(key);
  if (!v.is_number_integer()) fail(where, ".", key, " is ", v.dump(), ", expected an integer in ", lo, "..", hi);
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) fail(where, ".", key, " is ", x, ", expected ", lo, "..", hi);
  return x;
}

// The token count a per-step-size map is keyed by: a decimal integer 1..65536 written as a JSON key.
int64_t step_size_key(const std::string& k, const std::string& where) {
  int64_t v = 0;
  bool ok = !k.empty() && k.size() <= 5;
  for (char c : k) ok = ok && c >= '0' && c <= '9', v = v * 10 + (c - '0');
  if (!ok || v < 1 || v > 65536) fail(where, ": key \"", k, "\" is not a step size (expected tokens 1..65536)");
  return v;
}

template <typename T, typename Read>
std::map<int64_t, T> per_step_size(const json& j, const char* key, const std::string& where, Read read) {
  std::map<int64_t, T> out;
  if (!j.contains(key)) return out;
  const std::string w = where + "." + key;
  const json& m = object_at(j, key, where);
  for (const auto& [k, v] : m.items()) out[step_size_key(k, w)] = read(v, w + "[\"" + k + "\"]");
  return out;
}

template <typename T, typename Write>
json per_step_size_json(const std::map<int64_t, T>& m, Write write) {
  json o = json::object();
  for (const auto& [tokens, v] : m) o[std::to_string(tokens)] = write(v);
  return o;
}

constexpr int64_t kMaxDim = int64_t{1} << 31;  // model widths and vocabularies fit far below this

// The (m, n, k) of a list entry, each within bounds.
tune::LinearShapeKey shape_of(const json& e, int64_t m_max, const std::string& w) {
  return {int_at(e, "m", 1, m_max, w), int_at(e, "n", 1, kMaxDim, w), int_at(e, "k", 1, kMaxDim, w)};
}

// Calls fn(entry, where) for each entry of the array j[key] (absent: none), each an object.
template <typename Fn>
void each_object(const json& j, const char* key, const std::string& where, const char* expected, Fn fn) {
  if (!j.contains(key)) return;
  const json& a = j.at(key);
  if (!a.is_array()) fail(where, ".", key, " is ", a.type_name(), ", expected an array of ", expected);
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string w = where + "." + key + "[" + std::to_string(i) + "]";
    if (!a[i].is_object()) fail(w, " is ", a[i].type_name(), ", expected an object");
    fn(a[i], w);
  }
}

// A GEMV schedule's fields of a list entry.
tune::GemvSchedule schedule_of(const json& e, const std::string& w) {
  tune::GemvSchedule s;
  s.warps = static_cast<int>(int_at(e, "warps", 1, 32, w));
  s.kslices = static_cast<int>(int_at(e, "kslices", 1, 32, w));
  s.rows_per_warp = static_cast<int>(int_at(e, "rows_per_warp", 1, 32, w));
  s.unroll = static_cast<int>(int_at(e, "unroll", 1, 32, w));
  s.full_occupancy = static_cast<int>(int_at(e, "full_occupancy", 0, 1, w));
  s.persistent = static_cast<int>(int_at(e, "persistent", 0, 1, w));
  s.prefetch_kb = static_cast<int>(int_at(e, "prefetch_kb", 0, 1 << 20, w));
  if (e.contains("stages")) s.stages = static_cast<int>(int_at(e, "stages", 0, 64, w));  // the bulk-copy GEMV
  if (e.contains("chunk_bytes")) s.chunk_bytes = static_cast<int>(int_at(e, "chunk_bytes", 0, 1 << 20, w));
  if (s.warps % s.kslices != 0) fail(w, ": kslices ", s.kslices, " does not divide warps ", s.warps);
  return s;
}

json schedule_json(const tune::GemvSchedule& s) {
  json j = {{"warps", s.warps}, {"kslices", s.kslices}, {"rows_per_warp", s.rows_per_warp}, {"unroll", s.unroll},
            {"full_occupancy", s.full_occupancy}, {"persistent", s.persistent}, {"prefetch_kb", s.prefetch_kb}};
  if (s.stages) {  // the bulk-copy GEMV's ring; register-path entries keep their form
    j["stages"] = s.stages;
    j["chunk_bytes"] = s.chunk_bytes;
  }
  return j;
}

}  // namespace

json to_json(const tune::StepPrecision& p) {
  json j = {{"kv_cache", kernels::kv_format_name(p.kv_format())}, {"bf16_products", p.split_bf16 ? 2 : 1}};
  if (p.fp8_activations) j["activations"] = "fp8";  // absent: bf16 (recipes written before W8A8 read the same)
  return j;
}

tune::StepPrecision precision_from_json(const json& j, const std::string& where) {
  if (!j.is_object())
    fail(where, " is ", j.type_name(), ", expected {\"kv_cache\": \"f32\"|\"bf16\"|\"int8\"|\"fp8-e4m3\", \"bf16_products\": 1|2, "
         "\"activations\": \"bf16\"|\"fp8\"}");
  only_keys(j, {"kv_cache", "bf16_products", "activations"}, where);
  tune::StepPrecision p;
  if (j.contains("kv_cache")) {
    const json& v = j.at("kv_cache");
    if (!v.is_string()) fail(where, ".kv_cache is ", v.dump(), ", expected one of ", kernels::kv_format_names());
    const kernels::KvFormat f = kernels::parse_kv_format(v.get<std::string>(), where + ".kv_cache");
    p.kv_f32 = f == kernels::KvFormat::F32;
    if (!p.kv_f32) p.narrow_kv = f;
  }
  if (j.contains("bf16_products")) p.split_bf16 = int_at(j, "bf16_products", 1, 2, where) == 2;
  // W8A8 (CUDA, fp8-e4m3-pc weights; the executor refuses it elsewhere by name): "bf16" is the default.
  if (j.contains("activations")) {
    const json& v = j.at("activations");
    if (!v.is_string() || (v != "bf16" && v != "fp8"))
      fail(where, ".activations is ", v.dump(), ", expected \"bf16\" (the tensor-core products' bf16 inputs) or \"fp8\" "
           "(W8A8: E4M3 per token, fp8-e4m3-pc weights)");
    p.fp8_activations = v == "fp8";
  }
  return p;
}

json to_json(const tune::WholeStepPlan& p) {
  json gemv = json::array();
  for (const auto& [shape, s] : p.gemv) {
    const auto [m, n, k] = shape;
    gemv.push_back({{"m", m}, {"n", n}, {"k", k}, {"warps", s.warps}, {"kslices", s.kslices},
                    {"rows_per_warp", s.rows_per_warp}, {"unroll", s.unroll}, {"full_occupancy", s.full_occupancy},
                    {"persistent", s.persistent}, {"prefetch_kb", s.prefetch_kb}});
    if (s.stages) {
      gemv.back()["stages"] = s.stages;
      gemv.back()["chunk_bytes"] = s.chunk_bytes;
    }
  }
  json rules = json::array();
  for (const tune::GemvRule& r : p.gemv_rules) {
    json e = schedule_json(r.schedule);
    e["m"] = r.m;
    for (const auto& [key, v] : {std::pair<const char*, int64_t>{"k_min", r.k_min}, {"k_max", r.k_max},
                                 {"n_min", r.n_min}, {"n_max", r.n_max}})
      if (v) e[key] = v;
    rules.push_back(e);
  }
  json blaslt = json::array();
  for (const auto& [shape, a] : p.blaslt_algorithm) {
    const auto [m, n, k] = shape;
    blaslt.push_back({{"m", m}, {"n", n}, {"k", k}, {"algorithm", a}});
  }
  const auto same = [](const auto& v) { return v; };
  json out = {{"format", kWholeStepFormat},
          {"steps_per_launch", p.steps_per_launch},
          {"speed",
           {{"fuse", p.speed.fuse}, {"pdl", p.speed.pdl}, {"flash_attention", p.speed.flash_attention},
            {"weight_prefetch", p.speed.weight_prefetch}, {"flash_min_tokens", p.speed.flash_min_tokens},
            {"gemv_max_rows", p.speed.gemv_max_rows}}},
          {"timed_precision", to_json(p.timed_precision)},
          {"gemv", gemv},
          {"blaslt_algorithm", blaslt},
          {"fuse_decode", per_step_size_json(p.fuse_decode, same)},
          {"attention_split", per_step_size_json(p.attention_split, same)},
          {"o_prefetch", per_step_size_json(p.o_prefetch, same)},
          {"decode_attention", per_step_size_json(p.decode_attention,
                                                  [](const tune::DecodeAttentionChoice& d) {
                                                    return json{{"warps", d.warps}, {"keys_per_warp", d.keys_per_warp},
                                                                {"cluster", d.cluster}, {"reg_heads", d.reg_heads}};
                                                  })},
          {"moe_down_spread", per_step_size_json(p.moe_down_spread, same)}};
  if (!rules.empty()) out["gemv_rules"] = rules;  // absent from tuned plans: they list exact shapes
  return out;
}

tune::WholeStepPlan whole_step_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, " is ", j.type_name(), ", expected an object");
  if (!j.contains("format")) fail(where, ": missing key \"format\" (expected \"", kWholeStepFormat, "\")");
  if (j.at("format") != kWholeStepFormat)
    fail(where, ".format is ", j.at("format").dump(), ", expected \"", kWholeStepFormat, "\"");
  only_keys(j, {"format", "steps_per_launch", "speed", "timed_precision", "gemv", "gemv_rules", "blaslt_algorithm", "fuse_decode",
                "attention_split", "o_prefetch", "decode_attention", "moe_down_spread"},
            where);
  tune::WholeStepPlan p;
  if (j.contains("steps_per_launch")) p.steps_per_launch = int_at(j, "steps_per_launch", 1, 64, where);
  if (j.contains("speed")) {
    const std::string w = where + ".speed";
    const json& s = object_at(j, "speed", where);
    only_keys(s, {"fuse", "pdl", "flash_attention", "weight_prefetch", "flash_min_tokens", "gemv_max_rows"}, w);
    if (s.contains("fuse")) p.speed.fuse = bool_at(s, "fuse", w);
    if (s.contains("pdl")) p.speed.pdl = bool_at(s, "pdl", w);
    if (s.contains("flash_attention")) p.speed.flash_attention = bool_at(s, "flash_attention", w);
    if (s.contains("weight_prefetch")) p.speed.weight_prefetch = bool_at(s, "weight_prefetch", w);
    if (s.contains("flash_min_tokens")) p.speed.flash_min_tokens = int_at(s, "flash_min_tokens", 1, 1 << 20, w);
    if (s.contains("gemv_max_rows")) p.speed.gemv_max_rows = static_cast<int>(int_at(s, "gemv_max_rows", 1, 8, w));
  }
  if (j.contains("timed_precision")) p.timed_precision = precision_from_json(j.at("timed_precision"), where + ".timed_precision");
  each_object(j, "gemv", where, "{m, n, k, warps, ...}", [&](const json& e, const std::string& w) {
    only_keys(e, {"m", "n", "k", "warps", "kslices", "rows_per_warp", "unroll", "full_occupancy", "persistent",
                  "prefetch_kb", "stages", "chunk_bytes"},
              w);
    const auto shape = shape_of(e, 8, w);  // the GEMV path runs steps of at most 8 rows
    if (!p.gemv.emplace(shape, schedule_of(e, w)).second) fail(w, ": a second schedule for the same (m, n, k)");
  });
  each_object(j, "gemv_rules", where, "{m, k_min, ..., warps, ...}", [&](const json& e, const std::string& w) {
    only_keys(e, {"m", "k_min", "k_max", "n_min", "n_max", "warps", "kslices", "rows_per_warp", "unroll",
                  "full_occupancy", "persistent", "prefetch_kb", "stages", "chunk_bytes"},
              w);
    tune::GemvRule r;
    r.m = int_at(e, "m", 1, 8, w);
    for (auto [key, field] : {std::pair<const char*, int64_t*>{"k_min", &r.k_min}, {"k_max", &r.k_max},
                              {"n_min", &r.n_min}, {"n_max", &r.n_max}})
      if (e.contains(key)) *field = int_at(e, key, 1, kMaxDim, w);
    if ((r.k_max && r.k_max < r.k_min) || (r.n_max && r.n_max < r.n_min))
      fail(w, ": an empty bucket (a maximum below its minimum)");
    r.schedule = schedule_of(e, w);
    p.gemv_rules.push_back(r);
  });
  each_object(j, "blaslt_algorithm", where, "{m, n, k, algorithm}", [&](const json& e, const std::string& w) {
    only_keys(e, {"m", "n", "k", "algorithm"}, w);
    const auto shape = shape_of(e, kMaxDim, w);
    if (!p.blaslt_algorithm.emplace(shape, static_cast<int>(int_at(e, "algorithm", 0, 1023, w))).second)
      fail(w, ": a second algorithm for the same (m, n, k)");
  });
  const auto read_bool = [](const json& v, const std::string& w) {
    if (!v.is_boolean()) fail(w, " is ", v.dump(), ", expected true or false");
    return v.get<bool>();
  };
  p.fuse_decode = per_step_size<bool>(j, "fuse_decode", where, read_bool);
  p.o_prefetch = per_step_size<bool>(j, "o_prefetch", where, read_bool);
  p.moe_down_spread = per_step_size<bool>(j, "moe_down_spread", where, read_bool);
  p.attention_split = per_step_size<int64_t>(j, "attention_split", where, [](const json& v, const std::string& w) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > (1 << 20))
      fail(w, " is ", v.dump(), ", expected positions per split 1..1048576");
    return v.get<int64_t>();
  });
  p.decode_attention =
      per_step_size<tune::DecodeAttentionChoice>(j, "decode_attention", where, [](const json& v, const std::string& w) {
        if (!v.is_object()) fail(w, " is ", v.type_name(), ", expected {warps, keys_per_warp, cluster, reg_heads}");
        only_keys(v, {"warps", "keys_per_warp", "cluster", "reg_heads"}, w);
        tune::DecodeAttentionChoice d;
        d.warps = static_cast<int>(int_at(v, "warps", 0, 32, w));  // 0: RoPE, attention and combine as three kernels
        d.keys_per_warp = static_cast<int>(int_at(v, "keys_per_warp", 1, 64, w));
        if (v.contains("cluster")) d.cluster = bool_at(v, "cluster", w);
        if (v.contains("reg_heads")) d.reg_heads = bool_at(v, "reg_heads", w);
        return d;
      });
  return p;
}

}  // namespace synaptix::registry
