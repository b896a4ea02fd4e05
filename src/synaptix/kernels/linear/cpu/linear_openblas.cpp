#include "synaptix/kernels/linear/cpu/linear_openblas.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

constexpr const char* kBody = R"(
#include <cblas.h>
extern "C" int32_t synaptix_abi_version(void) { return ABI_VERSION; }
// f32 copy of W, made once: OpenBLAS has no bf16 x f32 GEMM on every build.
extern "C" int64_t synaptix_linear_packed_bytes(void) { return W_IS_F32 ? 0 : N * K * 4; }
extern "C" void synaptix_linear_pack(const void* w_, void* packed_) {
  const wt* w = (const wt*)w_;
  float* p = (float*)packed_;
  for (int64_t i = 0; i < N * K; ++i) p[i] = w_to_f32(w[i]);
}
extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  openblas_set_num_threads(rt && rt->threads > 0 ? rt->threads : 1);
  const float* wf = (const float*)w;
  if (m == 1 && GEMV_AT_M1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)N, (blasint)K, 1.0f, wf, (blasint)K, x, 1, 0.0f, y, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)N, (blasint)K, 1.0f, x, (blasint)K,
                wf, (blasint)K, 0.0f, y, (blasint)N);
  if (bias)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < N; ++j) y[i * N + j] += bias[j];
}
)";

}  // namespace

bool LinearOpenBlasGenerator::applies(const graph::Op& op, const hw::CpuProfile&) const {
  return (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) &&
         (op.w_dtype == DType::BF16 || op.w_dtype == DType::F16 || op.w_dtype == DType::F32);
}

std::vector<ParamDim> LinearOpenBlasGenerator::space(const graph::Op& op, const hw::CpuProfile&) const {
  if (op.m_lo <= 1) return {{"gemv_at_m1", {true, false}}};
  return {{"gemv_at_m1", {false}}};
}

bool LinearOpenBlasGenerator::valid(const graph::Op& op, const nlohmann::json& p) const {
  return p.contains("gemv_at_m1") && p["gemv_at_m1"].is_boolean() && (op.m_lo <= 1 || !p["gemv_at_m1"].get<bool>());
}

KernelSource LinearOpenBlasGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_openblas: point ", p.dump(), " is not in the space for ", op.signature());
  std::ostringstream os;
  os << "// linear_openblas for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head("scalar", op.w_dtype);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { W_IS_F32 = " << (op.w_dtype == DType::F32 ? 1 : 0)
     << ", GEMV_AT_M1 = " << (p["gemv_at_m1"].get<bool>() ? 1 : 0) << " };\n";
  os << kBody;
  return {os.str(), {"-lopenblas"}};
}

}  // namespace synaptix::kernels
