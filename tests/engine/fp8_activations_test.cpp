// Which models and devices the precision activations=fp8 (W8A8) may run on (engine/fp8_activations.h): every
// projection in fp8-e4m3-pc with dimensions the FP8 GEMM takes, on a device with FP8 tensor cores; anything
// else is refused naming what was found and what is expected.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/engine/fp8_activations.h"

namespace {

using synaptix::DType;
using synaptix::engine::ProjectionWeights;

std::vector<ProjectionWeights> fp8_layer() {
  return {{"layer 0 q|k|v", DType::FP8_PC, 6144, 4096},
          {"layer 0 o", DType::FP8_PC, 4096, 4096},
          {"layer 0 gate|up", DType::FP8_PC, 28672, 4096},
          {"layer 0 down", DType::FP8_PC, 4096, 14336}};
}

std::string refusal(const std::vector<ProjectionWeights>& p, int major, int minor) {
  try {
    synaptix::engine::check_fp8_activations(p, major, minor, "NVIDIA A100-SXM4-80GB");
  } catch (const synaptix::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Fp8Activations, Fp8WeightsOnAdaHopperAndBlackwellAreAccepted) {
  for (auto [major, minor] : {std::pair{8, 9}, {9, 0}, {10, 0}, {12, 0}}) EXPECT_EQ(refusal(fp8_layer(), major, minor), "");
}

TEST(Fp8Activations, DevicesWithoutFp8TensorCoresAreRefusedByNameAndCapability) {
  for (auto [major, minor] : {std::pair{8, 0}, {8, 6}, {7, 5}}) {
    const std::string m = refusal(fp8_layer(), major, minor);
    EXPECT_NE(m.find("NVIDIA A100-SXM4-80GB"), std::string::npos) << m;
    EXPECT_NE(m.find("sm_" + std::to_string(major) + std::to_string(minor)), std::string::npos) << m;
    EXPECT_NE(m.find("sm_89 or later"), std::string::npos) << m;
  }
}

TEST(Fp8Activations, OtherWeightFormatsAreRefusedNamingTheProjection) {
  for (const DType d : {DType::BF16, DType::W8_PC, DType::W4_G128, DType::MXFP4}) {
    std::vector<ProjectionWeights> p = fp8_layer();
    p[3].dtype = d;
    const std::string m = refusal(p, 9, 0);
    EXPECT_NE(m.find("layer 0 down is " + std::string(synaptix::dtype_name(d))), std::string::npos) << m;
    EXPECT_NE(m.find("expected fp8-e4m3-pc"), std::string::npos) << m;
  }
}

TEST(Fp8Activations, ShapesTheFp8GemmCannotTakeAndEmptyModelsAreRefused) {
  std::vector<ProjectionWeights> p = fp8_layer();
  p[1].k = 4104;  // a multiple of 8, not of 16
  const std::string m = refusal(p, 9, 0);
  EXPECT_NE(m.find("layer 0 o is 4096 x 4104"), std::string::npos) << m;
  EXPECT_NE(m.find("multiples of 16"), std::string::npos) << m;
  EXPECT_NE(refusal({}, 9, 0).find("no projection"), std::string::npos);
}

}  // namespace
