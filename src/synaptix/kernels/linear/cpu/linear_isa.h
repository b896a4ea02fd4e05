#pragma once
// The vector layer pasted into generated kernels (the linear family, norms, attention): a float vector type `vf` of VL lanes and
// load/convert/fma/reduce helpers for one ISA. Shared by every generator of the linear family.
#include <string>

#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/core/dtype.h"
#include "synaptix/hw/cpu_profile.h"

namespace synaptix::kernels {

// Lanes of one vector for an isa name ("avx512" 16, "avx2" 8, "scalar" 1); throws on an unknown name.
int isa_lanes(const std::string& isa);
// Source text defining vf, VL, vzero, vload/vstore (f32), vload_w (W element type `wt` from `w`), vfma, vadd,
// vmul, vset1, vsum,
// and the scalar w_to_f32. `w` is the weight dtype: BF16, F16 or F32.
std::string isa_prelude(const std::string& isa, DType w);
// The isa values a generator may offer on `cpu` for weights of dtype w (f16 needs F16C), widest first.
std::vector<nlohmann::json> isa_choices(const hw::CpuProfile& cpu, DType w);
// The CPU features (CpuIsa::to_string() names) a generated kernel with this isa parameter needs, what a
// recipe records for it: "avx512" -> avx512f, "avx512_vnni" -> avx512f,avx512bw,avx512vl,avx512_vnni,
// "avx512_bf16" -> avx512f,avx512_bf16, "avx2" -> avx2,fma; f16 weights add f16c. Throws on an unknown isa.
std::vector<std::string> isa_features(const std::string& isa, DType w);
// The C type name of one W element in generated code.
const char* weight_ctype(DType w);
// The head every generated module starts with: isa_prelude(isa, w), the ABI declarations and ABI_VERSION.
std::string generated_source_head(const std::string& isa, DType w);
// Generated-source text shared by the tiled GEMV/GEMM generators: `rows(c, n0, n1)`, which walks m blocks of
// MB rows (0: all) and n tiles of NT outputs, and the thread-pool entry `task`. The text before it defines
// Ctx (with a member m), MT, NT, MB, RPT, N, K and TILE(mt, nt, i, n): tile<mt, nt> for x row i, output n.
extern const char* const kTiledRowsDriver;
// Generated-source text: the ABI entry points other than synaptix_linear of a module that reads W as stored
// (its ABI version, no packed copy). ABI_VERSION must be defined before it.
extern const char* const kNoPackEntries;
// Generated-source text for modules that compute with bf16 activations and read W as stored (after
// generated_source_head("avx512", bf16)): kNoPackEntries, the declaration
// synaptix_linear_activations() == "bf16", and RoundedX, x rounded to bf16 (nearest even) for one call.
extern const char* const kBf16ActivationsPrelude;

}  // namespace synaptix::kernels
