#include "synaptix/kernels/linear/cpu/linear_onednn.h"

#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/kernels/linear/cpu/linear_isa.h"

namespace synaptix::kernels {
namespace {

#if __has_include(<oneapi/dnnl/dnnl.hpp>)
constexpr bool kHaveOneDnn = true;
#else
constexpr bool kHaveOneDnn = false;
#endif

// After generated_source_head("avx512", bf16), the constants N, K, SLICES_PER_THREAD, ALL_THREADS and
// kBf16ActivationsPrelude.
constexpr const char* kBody = R"(
#include <oneapi/dnnl/dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

extern "C" void omp_set_num_threads(int);  // libgomp, through libdnnl: one thread per pool task

namespace {

// One matmul primitive per (rows of x, rows of the W slice), made once, shared by every call.
struct Cache {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mu;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<dnnl::matmul>> prims;
  std::vector<std::unique_ptr<dnnl::stream>> streams;  // one per slice: slices run concurrently

  dnnl::matmul& prim(int64_t m, int64_t len) {
    std::lock_guard<std::mutex> lock(mu);
    auto& p = prims[{m, len}];
    if (!p) {
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc src({m, K}, dt::bf16, dnnl::memory::dims{K, 1});
      const dnnl::memory::desc wei({K, len}, dt::bf16, dnnl::memory::dims{1, K});  // W rows are columns
      const dnnl::memory::desc dst({m, len}, dt::f32, dnnl::memory::dims{N, 1});   // a column slice of y
#if DNNL_VERSION_MAJOR >= 3
      dnnl::matmul::primitive_desc pd(eng, src, wei, dst);
#else
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), eng);
#endif
      p.reset(new dnnl::matmul(pd));
    }
    return *p;
  }
  dnnl::stream& stream(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    while (streams.size() <= i) streams.emplace_back(new dnnl::stream(eng));
    return *streams[i];
  }
};

Cache& cache() {
  static Cache c;
  return c;
}

struct Ctx { const uint16_t* xb; const uint16_t* w; const float* bias; float* y; int64_t m, slice; };

void slice_task(void* ctx, int64_t begin, int64_t end) {
  const Ctx* c = (const Ctx*)ctx;
  omp_set_num_threads(1);
  for (int64_t s = begin; s < end; ++s) {
    const int64_t n0 = s * c->slice, len = n0 + c->slice <= N ? c->slice : N - n0;
    if (len <= 0) continue;
    using dt = dnnl::memory::data_type;
    Cache& k = cache();
    dnnl::matmul& mm = k.prim(c->m, len);
    const dnnl::memory src({{c->m, K}, dt::bf16, dnnl::memory::dims{K, 1}}, k.eng, (void*)c->xb);
    const dnnl::memory wei({{K, len}, dt::bf16, dnnl::memory::dims{1, K}}, k.eng, (void*)(c->w + n0 * K));
    const dnnl::memory dst({{c->m, len}, dt::f32, dnnl::memory::dims{N, 1}}, k.eng, (void*)(c->y + n0));
    dnnl::stream& st = k.stream((size_t)s);
    mm.execute(st, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    st.wait();
    if (c->bias)
      for (int64_t i = 0; i < c->m; ++i)
        for (int64_t j = n0; j < n0 + len; ++j) c->y[i * N + j] += c->bias[j];
  }
}

}  // namespace

extern "C" void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m) {
  const RoundedX xb(x, m * K);
  const int64_t threads = ALL_THREADS && rt && rt->parallel_for && rt->threads > 1 ? rt->threads : 1;
  int64_t slices = threads * (threads > 1 ? SLICES_PER_THREAD : 1);
  // Slices of whole 16-row groups (AMX tiles are 16 columns of the output wide).
  int64_t slice = ((N + slices - 1) / slices + 15) / 16 * 16;
  slices = (N + slice - 1) / slice;
  Ctx c = {xb.p, (const uint16_t*)w, bias, y, m, slice};
  if (slices > 1)
    rt->parallel_for(rt->pool, slices, slice_task, &c);
  else
    slice_task(&c, 0, 1);
}
)";

}  // namespace

bool LinearOneDnnGenerator::applies(const graph::Op& op, const hw::CpuProfile& cpu) const {
  return kHaveOneDnn && (op.kind == graph::OpKind::Linear || op.kind == graph::OpKind::MoeExpert) &&
         op.w_dtype == DType::BF16 && cpu.isa.avx512f && cpu.isa.avx512_bf16 && op.n > 0 && op.k > 0 && op.m > 0;
}

std::vector<ParamDim> LinearOneDnnGenerator::space(const graph::Op&, const hw::CpuProfile&) const {
  return {{"isa", {"avx512_bf16"}}, {"threads", {"all", "one"}}, {"slices_per_thread", {1, 4}}};
}

bool LinearOneDnnGenerator::valid(const graph::Op&, const nlohmann::json& p) const {
  try {
    if (p.at("isa") != "avx512_bf16") return false;
    const auto spt = p.at("slices_per_thread").get<int64_t>();
    if (spt != 1 && spt != 4) return false;
    if (p.at("threads") == "one") return spt == 1;
    return p.at("threads") == "all";
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

KernelSource LinearOneDnnGenerator::emit(const graph::Op& op, const nlohmann::json& p) const {
  if (!valid(op, p)) fail("linear_onednn: point ", p.dump(), " is not in the space for ", op.signature());
  std::ostringstream os;
  os << "// linear_onednn for " << op.signature() << "\n// params " << p.dump() << "\n";
  os << generated_source_head("avx512", DType::BF16);
  os << "static const int64_t N = " << op.n << ", K = " << op.k << ";\n";
  os << "enum { SLICES_PER_THREAD = " << p.at("slices_per_thread").get<int64_t>()
     << ", ALL_THREADS = " << (p.at("threads") == "all" ? 1 : 0) << " };\n";
  os << kNoPackEntries << kBf16ActivationsPrelude << kBody;
  return {os.str(), {"-ldnnl"}};
}

}  // namespace synaptix::kernels
