#pragma once
// The C ABI of a generated kernel module (.so). Generators paste kGeneratedAbiDecls at the top of the source
// they emit, so both sides see the same declarations. The runtime hands the kernel a parallel-for callback
// over our ThreadPool: generated code runs on our threads, never on threads of its own.
//
// A linear module (op "linear", shapes n and k compiled in; m is a call argument) exports:
//   int32_t synaptix_abi_version(void);                 // == kGeneratedAbiVersion
//   int64_t synaptix_linear_packed_bytes(void);         // 0: the kernel reads W as given ([n, k])
//   void    synaptix_linear_pack(const void* w, void* packed);   // only when packed_bytes > 0
//   void    synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w_or_packed,
//                           const float* bias /* nullable */, float* y, int64_t m);
// A fused gate+up module (op "gate_up_silu": y[m, n] = silu(x Wg^T) * (x Wu^T)) exports
//   void    synaptix_gate_up_silu(const synaptix_runtime* rt, const float* x, const void* w_gate,
//                                 const void* w_up, float* y, int64_t m);
// A residual-add RMSNorm module (op "add_rmsnorm", n compiled in) exports
//   void    synaptix_add_rmsnorm(const synaptix_runtime* rt, float* residual, const float* x,
//                                const float* gamma, float* y, int64_t m, float eps);   // y may alias x
// A decode attention module (op "attention": heads, kv_heads, head_dim compiled in) exports
//   void    synaptix_attention(const synaptix_runtime* rt, const float* q, const float* k_cache,
//                             const float* v_cache, int64_t block_size, const int32_t* const* block_tables,
//                             const int64_t* pos, int64_t window, float scale, float* out, int64_t m);
// An LM head with fused argmax (op "lm_head_argmax": y never stored, n and k compiled in) exports
//   void    synaptix_lm_head_argmax(const synaptix_runtime* rt, const float* x, const void* w, int32_t* ids,
//                                   int64_t m);          // lowest index among equal maxima
#include <cstdint>

#define SYNAPTIX_GENERATED_ABI_DECLS                                                                     \
  typedef void (*synaptix_task_fn)(void* ctx, int64_t begin, int64_t end);                             \
  typedef struct synaptix_runtime {                                                                     \
    void (*parallel_for)(void* pool, int64_t n_tasks, synaptix_task_fn fn, void* ctx);                  \
    void* pool;                                                                                         \
    int32_t threads;                                                                                    \
  } synaptix_runtime;

extern "C" {
SYNAPTIX_GENERATED_ABI_DECLS
}

namespace synaptix::kernels {

inline constexpr int32_t kGeneratedAbiVersion = 1;

#define SYNAPTIX_ABI_STR2(...) #__VA_ARGS__
#define SYNAPTIX_ABI_STR(...) SYNAPTIX_ABI_STR2(__VA_ARGS__)
inline constexpr const char* kGeneratedAbiDecls = SYNAPTIX_ABI_STR(SYNAPTIX_GENERATED_ABI_DECLS);
#undef SYNAPTIX_ABI_STR
#undef SYNAPTIX_ABI_STR2

using AbiVersionFn = int32_t (*)();
using LinearPackedBytesFn = int64_t (*)();
using LinearPackFn = void (*)(const void* w, void* packed);
using LinearKernelFn = void (*)(const synaptix_runtime* rt, const float* x, const void* w, const float* bias,
                                float* y, int64_t m);
using GateUpSiluKernelFn = void (*)(const synaptix_runtime* rt, const float* x, const void* w_gate,
                                    const void* w_up, float* y, int64_t m);
using AddRmsNormKernelFn = void (*)(const synaptix_runtime* rt, float* residual, const float* x, const float* gamma,
                                    float* y, int64_t m, float eps);
using AttentionKernelFn = void (*)(const synaptix_runtime* rt, const float* q, const float* k_cache,
                                   const float* v_cache, int64_t block_size, const int32_t* const* block_tables,
                                   const int64_t* pos, int64_t window, float scale, float* out, int64_t m);
using LmHeadArgmaxKernelFn = void (*)(const synaptix_runtime* rt, const float* x, const void* w, int32_t* ids,
                                      int64_t m);

}  // namespace synaptix::kernels
