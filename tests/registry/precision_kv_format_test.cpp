// The recipe's "precision" section takes every KV cache format (kernels/attention/kv_format.h) and writes back
// what it read; any other value is refused naming the section, the value and the accepted list.
#include <gtest/gtest.h>

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/registry/whole_step.h"

using namespace synaptix;

TEST(PrecisionKvFormat, EveryFormatRoundTrips) {
  for (const char* name : {"f32", "bf16", "int8", "fp8-e4m3"}) {
    const nlohmann::json j = {{"kv_cache", name}, {"bf16_products", 1}};
    const tune::StepPrecision p = registry::precision_from_json(j, "r.json: precision");
    EXPECT_EQ(std::string(kernels::kv_format_name(p.kv_format())), name);
    EXPECT_EQ(p.kv_f32, std::string(name) == "f32");
    EXPECT_EQ(registry::to_json(p), j);
  }
}

TEST(PrecisionKvFormat, OtherValuesAreRefusedWithTheAcceptedList) {
  for (const nlohmann::json& bad : {nlohmann::json("fp8"), nlohmann::json("f16"), nlohmann::json(8)}) {
    try {
      registry::precision_from_json({{"kv_cache", bad}}, "r.json: precision");
      FAIL() << "accepted " << bad.dump();
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("r.json: precision"), std::string::npos) << m;
      if (bad.is_string()) {
        EXPECT_NE(m.find("\"" + bad.get<std::string>() + "\""), std::string::npos) << m;
      }
      EXPECT_NE(m.find("f32, bf16, int8, fp8-e4m3"), std::string::npos) << m;
    }
  }
}
