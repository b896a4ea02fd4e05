// Fuzz target: a model's config.json, read as model loading and `synaptix inspect` read it: load_spec on the
// file (JSON parsing included), then everything derived from the spec (per-layer windows and MoE placement,
// the parameter count and the JSON summary inspect prints).
#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "synaptix/model/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const synaptix::fuzz::ScratchFile scratch("config.json");
  const std::string& path = scratch.write(data, size);
  synaptix::fuzz::expect_clean([&] {
    const synaptix::model::Spec spec = synaptix::model::load_spec(path);
    volatile int64_t sink = 0;
    for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
      sink = sink + spec.window_for_layer(layer) + (spec.layer_is_moe(layer) ? 1 : 0);
    }
    sink = sink + static_cast<int64_t>(synaptix::model::spec_to_json(spec).dump().size());
  });
  return 0;
}
