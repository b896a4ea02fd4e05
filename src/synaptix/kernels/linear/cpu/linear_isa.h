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
// The C type name of one W element in generated code.
const char* weight_ctype(DType w);

}  // namespace synaptix::kernels
