// The registry of CPU generators: adding one is a line here and a folder under kernels/<op>/cpu/.
#include "synaptix/core/error.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/kernels/linear/cpu/linear_bf16dot.h"
#include "synaptix/kernels/linear/cpu/linear_format_q8.h"
#include "synaptix/kernels/linear/cpu/linear_onednn.h"
#include "synaptix/kernels/linear/cpu/linear_openblas.h"
#include "synaptix/kernels/linear/cpu/linear_quant.h"
#include "synaptix/kernels/linear/cpu/linear_tiled.h"
#include "synaptix/kernels/attention/cpu/attention_paged.h"
#include "synaptix/kernels/rmsnorm/cpu/add_rmsnorm_vec.h"
#include "synaptix/kernels/sampling/cpu/lm_head_argmax.h"
#include "synaptix/kernels/swiglu/cpu/gate_up_silu_tiled.h"

namespace synaptix::kernels {

const std::vector<const CpuGenerator*>& cpu_generators() {
  static const LinearTiledGenerator tiled;
  static const LinearOpenBlasGenerator openblas;
  static const GateUpSiluTiledGenerator gate_up;
  static const AddRmsNormVecGenerator add_rmsnorm;
  static const AttentionPagedGenerator attention;
  static const LmHeadArgmaxGenerator lm_head_argmax;
  static const LinearQuantGenerator quant;  // GGUF block weights (Q4_0, Q4_1, Q8_0)
  static const LinearBf16DotGenerator bf16dot;  // bf16 activations: a precision choice
  static const LinearOneDnnGenerator onednn;    // vendor tactic, bf16 activations
  static const LinearFormatQ8Generator format_q8;  // int8/int4 weight formats, q8 activations (VNNI)
  static const std::vector<const CpuGenerator*> all{&tiled, &openblas, &gate_up, &add_rmsnorm, &attention,
                                                    &lm_head_argmax, &quant, &bf16dot, &onednn, &format_q8};
  return all;
}

const CpuGenerator& cpu_generator(const std::string& name) {
  for (const auto* g : cpu_generators())
    if (g->name() == name) return *g;
  fail("unknown CPU kernel generator '", name, "'");
}

}  // namespace synaptix::kernels
