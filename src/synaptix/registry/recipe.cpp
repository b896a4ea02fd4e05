#include "synaptix/registry/recipe.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/hw/cpu_isa_mask.h"
#include "synaptix/registry/whole_step.h"

namespace synaptix::registry {
namespace {

template <typename T>
T get(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail(where, ": missing key '", key, "'");
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(where, ": key '", key, "' has the wrong type (", j.at(key).type_name(), ")");
  }
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

}  // namespace

nlohmann::json to_json(const Recipe& r) {
  nlohmann::json ks = nlohmann::json::array();
  for (const auto& k : r.kernels)
    ks.push_back({{"op", k.op},
                  {"signature", k.signature},
                  {"m_lo", k.m_lo},
                  {"m_hi", k.m_hi},
                  {"n", k.n},
                  {"k", k.k},
                  {"kv_heads", k.kv_heads},
                  {"ctx", k.ctx},
                  {"w_dtype", lower(dtype_name(k.w_dtype))},
                  {"generator", k.generator},
                  {"params", k.params},
                  {"source_sha256", k.source_sha256},
                  {"libs", k.libs},
                  {"isa_features", k.isa_features},
                  {"baseline_us", k.baseline_us},
                  {"tuned_us", k.tuned_us},
                  {"speedup", k.tuned_us > 0 ? k.baseline_us / k.tuned_us : 0.0},
                  {"trials", k.trials},
                  {"source", k.source}});
  nlohmann::json j = {{"format", kRecipeFormat},
                      {"created", r.created},
                      {"model", r.model},
                      {"target", {{"kind", r.target_kind}, {"fingerprint", r.target_fingerprint}, {"hash", r.target_hash},
                                  {"profile", r.target}}},
                      {"kernels", ks},
                      {"untuned", r.untuned},
                      {"tuning", r.tuning},
                      {"trace", r.trace}};
  if (r.whole_step) j["whole_step"] = to_json(*r.whole_step);
  if (r.precision) j["precision"] = to_json(*r.precision);
  if (r.quant) j["quant"] = quant::quant_section_to_json(*r.quant);
  return j;
}

Recipe recipe_from_json(const nlohmann::json& j, const std::string& where) {
  const auto format = get<std::string>(j, "format", where);
  if (format != kRecipeFormat) fail(where, ": recipe format '", format, "', expected '", kRecipeFormat, "'");
  Recipe r;
  r.created = j.value("created", "");
  r.model = j.value("model", nlohmann::json::object());
  const auto& t = j.contains("target") ? j["target"] : nlohmann::json();
  r.target_fingerprint = get<std::string>(t, "fingerprint", where + ": target");
  r.target_hash = get<std::string>(t, "hash", where + ": target");
  r.target = t.value("profile", nlohmann::json::object());
  r.target_kind = t.contains("kind") ? get<std::string>(t, "kind", where + ": target") : "cpu";  // older recipes: CPU
  if (r.target_kind != "cpu" && r.target_kind != "cuda")
    fail(where, ": target.kind \"", r.target_kind, "\", expected \"cpu\" or \"cuda\"");
  if (!j.contains("kernels") || !j["kernels"].is_array()) fail(where, ": missing array 'kernels'");
  for (size_t i = 0; i < j["kernels"].size(); ++i) {
    const auto& e = j["kernels"][i];
    const std::string w = where + ": kernels[" + std::to_string(i) + "]";
    RecipeKernel k;
    k.op = get<std::string>(e, "op", w);
    if (std::find(std::begin(kRecipeHooks), std::end(kRecipeHooks), k.op) == std::end(kRecipeHooks))
      fail(w, ": op '", k.op, "' has no kernel hook (expected linear, gate_up_silu, add_rmsnorm, attention or "
           "lm_head_argmax)");
    k.signature = e.value("signature", "");
    k.m_lo = get<int64_t>(e, "m_lo", w);
    k.m_hi = get<int64_t>(e, "m_hi", w);
    k.n = get<int64_t>(e, "n", w);
    k.k = get<int64_t>(e, "k", w);
    k.kv_heads = e.value("kv_heads", int64_t{0});
    k.ctx = e.value("ctx", int64_t{0});
    const bool needs_k = k.op != "add_rmsnorm";
    if (k.m_lo < 1 || k.m_hi < k.m_lo || k.n < 1 || (needs_k && k.k < 1))
      fail(w, ": shapes m_lo=", k.m_lo, " m_hi=", k.m_hi, " n=", k.n, " k=", k.k, " are not a valid bucket");
    if (k.op == "attention" && (k.kv_heads < 1 || k.n % k.kv_heads != 0 || k.ctx < 1))
      fail(w, ": attention kernel with n=", k.n, " heads, kv_heads=", k.kv_heads, " and ctx=", k.ctx,
           ": expected heads a multiple of kv_heads >= 1 and ctx >= 1");
    const auto wd = get<std::string>(e, "w_dtype", w);
    if (!parse_dtype(wd, &k.w_dtype)) fail(w, ": unknown w_dtype '", wd, "'");
    k.generator = get<std::string>(e, "generator", w);
    k.params = e.value("params", nlohmann::json::object());
    k.source_sha256 = get<std::string>(e, "source_sha256", w);
    k.source = get<std::string>(e, "source", w);
    k.libs = e.value("libs", std::vector<std::string>{});
    k.isa_features = e.value("isa_features", std::vector<std::string>{});
    k.baseline_us = e.value("baseline_us", 0.0);
    k.tuned_us = e.value("tuned_us", 0.0);
    k.trials = e.value("trials", int64_t{0});
    if (sha256_hex(k.source) != k.source_sha256)
      fail(w, ": the source does not match its source_sha256 (edited or truncated recipe)");
    r.kernels.push_back(std::move(k));
  }
  r.untuned = j.value("untuned", nlohmann::json::array());
  r.tuning = j.value("tuning", nlohmann::json::object());
  r.trace = j.value("trace", nlohmann::json::array());
  if (j.contains("whole_step")) r.whole_step = whole_step_from_json(j["whole_step"], where + ": whole_step");
  if (j.contains("precision")) r.precision = precision_from_json(j["precision"], where + ": precision");
  if (j.contains("quant")) r.quant = quant::quant_section_from_json(j["quant"], where + ": quant");
  return r;
}

void save_recipe(const Recipe& r, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << to_json(r).dump(2) << "\n";
    if (!f) fail("cannot write recipe ", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot write recipe ", path);
}

Recipe load_recipe(const std::string& path) {
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Where a hand edit or a truncated copy broke it: the line and column of the byte the parser stopped at.
    const size_t at = std::min(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    const size_t line_start = text.rfind('\n', at == 0 ? 0 : at - 1);
    const size_t column = at - (line_start == std::string::npos || at == 0 ? 0 : line_start + 1) + 1;
    fail("recipe ", path, " is not valid JSON: line ", line, ", column ", column,
         at >= text.size() ? " (the file ends there: truncated?)" : "", ": ", e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number beyond double's range (out_of_range.406)
    fail("recipe ", path, " is not valid JSON: ", e.what());
  }
  try {
    return recipe_from_json(j, "recipe " + path);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type ("target": 5)
    fail("recipe ", path, ": a field has the wrong type: ", e.what());
  }
}

void check_kernel_isa(const Recipe& r, const hw::CpuIsa& isa, const std::string& where) {
  const std::string have = isa.to_string();
  std::vector<std::string> present;
  for (size_t b = 0; b <= have.size();) {
    const size_t e = std::min(have.find(',', b), have.size());
    if (e > b) present.push_back(have.substr(b, e - b));
    b = e + 1;
  }
  const auto& known = hw::maskable_isa_features();
  for (size_t i = 0; i < r.kernels.size(); ++i) {
    const RecipeKernel& k = r.kernels[i];
    for (const std::string& f : k.isa_features) {
      if (std::find(known.begin(), known.end(), f) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
        fail(where, ": kernels[", i, "] ('", k.signature, "', ", k.generator, ") names the CPU feature '", f,
             "', which is not one of ", list);
      }
      if (std::find(present.begin(), present.end(), f) == present.end())
        fail(where, ": kernels[", i, "] ('", k.signature, "', ", k.generator, ") needs the CPU feature '", f,
             "', which this CPU lacks (it has ", have.empty() ? "none of them" : have,
             "); tune this CPU with `synaptix tune --target cpu`");
    }
  }
}

void check_target(const Recipe& r, const hw::CpuProfile& cpu, const std::string& where) {
  if (r.target_kind != "cpu")
    fail(where, " was tuned for a ", r.target_kind, " target and is refused on --target cpu:\n  recipe target: ",
         r.target_fingerprint, " [", r.target_hash, "]\n  this machine:  ", cpu.fingerprint(), " [", cpu.fingerprint_hash(),
         "]\nRun it with --target ", r.target_kind, ", or tune this CPU with `synaptix tune --target cpu`.");
  if (r.target_hash == cpu.fingerprint_hash()) return;
  fail(where, " was tuned for another target and is refused here:\n  recipe target: ", r.target_fingerprint, " [",
       r.target_hash, "]\n  this machine:  ", cpu.fingerprint(), " [", cpu.fingerprint_hash(),
       "]\nRe-tune on this machine with `synaptix tune --model DIR --target cpu --out RECIPE.json`.");
}

std::string cuda_fingerprint_hash(const std::string& device_fingerprint) {
  return sha256_hex(device_fingerprint).substr(0, 16);
}

void check_cuda_target(const Recipe& r, const std::string& device_fingerprint, const std::string& where) {
  const std::string hash = cuda_fingerprint_hash(device_fingerprint);
  if (r.target_kind == "cuda" && r.target_fingerprint == device_fingerprint && r.target_hash == hash) return;
  fail(where, " was tuned for another target and is refused here:\n  recipe target: ", r.target_kind, " ",
       r.target_fingerprint, " [", r.target_hash, "]\n  this device:   cuda ", device_fingerprint, " [", hash,
       "]\nRe-tune on this device with `synaptix tune --model DIR --target cuda:N --out RECIPE.json`.");
}

}  // namespace synaptix::registry
