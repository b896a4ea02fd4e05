// The recipe's precision "activations" (W8A8 FP8 on the CUDA target): "fp8" and "bf16" are read, written back
// only when fp8 (recipes without it read and write as before), anything else is refused naming the section and
// the value; the CUDA setup turns it into the executor's option and says so in its note.
#include <gtest/gtest.h>

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/registry/cuda/cuda_recipe_setup.h"
#include "synaptix/registry/whole_step.h"

using namespace synaptix;

TEST(PrecisionActivations, Fp8RoundTripsAndBf16IsTheDefault) {
  const nlohmann::json fp8 = {{"kv_cache", "bf16"}, {"bf16_products", 1}, {"activations", "fp8"}};
  const tune::StepPrecision p = registry::precision_from_json(fp8, "r.json: precision");
  EXPECT_TRUE(p.fp8_activations);
  EXPECT_FALSE(p.kv_f32);
  EXPECT_EQ(registry::to_json(p), fp8);
  const nlohmann::json bf16 = {{"kv_cache", "f32"}, {"bf16_products", 2}, {"activations", "bf16"}};
  const tune::StepPrecision q = registry::precision_from_json(bf16, "r.json: precision");
  EXPECT_FALSE(q.fp8_activations);
  EXPECT_FALSE(registry::to_json(q).contains("activations"));
  EXPECT_FALSE(registry::precision_from_json({{"kv_cache", "f32"}}, "r.json: precision").fp8_activations);
}

TEST(PrecisionActivations, OtherValuesAreRefusedNamingTheSectionAndValue) {
  for (const nlohmann::json& bad : {nlohmann::json("fp8-e4m3"), nlohmann::json("int8"), nlohmann::json(8), nlohmann::json(true)}) {
    try {
      registry::precision_from_json({{"activations", bad}}, "r.json: precision");
      FAIL() << "accepted " << bad.dump();
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("r.json: precision.activations is " + bad.dump()), std::string::npos) << m;
      EXPECT_NE(m.find("\"fp8\""), std::string::npos) << m;
    }
  }
}

TEST(PrecisionActivations, TheCudaSetupPassesItToTheExecutorAndSaysSo) {
  tune::StepPrecision asked;
  asked.fp8_activations = true;
  const registry::CudaSetup s = registry::cuda_setup(nullptr, "no recipe", "", asked);
  EXPECT_TRUE(s.options.fp8_activations);
  EXPECT_NE(s.precision_note.find("activations=fp8"), std::string::npos) << s.precision_note;
  EXPECT_FALSE(registry::cuda_setup(nullptr, "no recipe", "", std::nullopt).options.fp8_activations);
}
