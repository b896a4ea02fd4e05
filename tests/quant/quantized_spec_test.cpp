// A quantized model's formats as the tuner's graph sees them (model::op_weight_dtypes, recorded in
// Spec::weight_dtypes by apply_quant_recipe): each projection op takes the format most layers hold, so
// `synaptix tune --quant R` enumerates ops of those dtypes, the fused gate_up_silu op is left out where the
// gate is quantized (no fused kernel takes packed weights), and linear_format_q8 applies to the ops. The
// fixture is the 2-layer llama of ../shared/fixtures.
#include <gtest/gtest.h>

#include <algorithm>

#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/linear/cpu/linear_format_q8.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"

using namespace synaptix;

TEST(QuantizedSpec, EachOpTakesTheFormatMostLayersHold) {
  quant::QuantRecipe r;
  for (int l = 0; l < 3; ++l) r.tensors["model.layers." + std::to_string(l) + ".self_attn.q_proj.weight"] = DType::W4_G64;
  r.tensors["model.layers.0.self_attn.o_proj.weight"] = DType::W8_PC;  // one layer of three: bf16 holds
  r.tensors["model.layers.0.mlp.gate_proj.weight"] = DType::W4_G32;
  r.tensors["model.layers.1.mlp.gate_proj.weight"] = DType::W4_G32;
  r.tensors["model.layers.2.mlp.gate_proj.weight"] = DType::W8_PC;
  r.tensors["model.layers.1.mlp.experts.3.down_proj.weight"] = DType::W4A_G128;
  const auto d = model::op_weight_dtypes(r, 3, DType::BF16);
  EXPECT_EQ(d.at("layers.*.self_attn.q_proj"), DType::W4_G64);
  EXPECT_FALSE(d.count("layers.*.self_attn.o_proj"));
  EXPECT_EQ(d.at("layers.*.mlp.gate_proj"), DType::W4_G32);
  EXPECT_EQ(d.at("layers.*.mlp.gate_up_silu"), DType::W4_G32);
  EXPECT_EQ(d.at("layers.*.mlp.experts.*.down_proj"), DType::W4A_G128);
  EXPECT_FALSE(d.count("layers.*.mlp.down_proj"));
}

TEST(QuantizedSpec, TheAppliedFormatsAreTheGraphsOps) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  quant::QuantRecipe r;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    r.tensors[p + "self_attn.q_proj.weight"] = DType::W4A_G64;
    r.tensors[p + "mlp.gate_proj.weight"] = DType::W8_PC;
    r.tensors[p + "mlp.up_proj.weight"] = DType::W8_PC;
  }
  model::apply_quant_recipe(*m, r, "");
  const auto ops = graph::distinct_ops(graph::all_graphs(m->spec, 256),
                                       {graph::OpKind::Linear, graph::OpKind::GateUpSilu});
  const auto cpu = hw::probe_cpu(false);
  const kernels::LinearFormatQ8Generator gen;
  int q = 0, gate = 0, k = 0;
  for (const auto& op : ops) {
    EXPECT_NE(op.kind, graph::OpKind::GateUpSilu) << op.signature() << ": the gate is quantized";
    if (op.name == "layers.*.self_attn.q_proj") {
      ++q;
      EXPECT_EQ(op.w_dtype, DType::W4A_G64) << op.signature();
      if (cpu.isa.avx2 && cpu.isa.fma) {
        EXPECT_TRUE(gen.applies(op, cpu)) << op.signature();
      }
    }
    if (op.name == "layers.*.mlp.gate_proj") gate += op.w_dtype == DType::W8_PC;
    if (op.name == "layers.*.self_attn.k_proj") k += op.w_dtype == m->spec.dtype;
  }
  EXPECT_GT(q, 0);
  EXPECT_GT(gate, 0);
  EXPECT_GT(k, 0);  // not in the recipe: as loaded
}
