#pragma once
// Logit soft-capping (gemma2/gemma3 configs' attn_logit_softcapping and final_logit_softcapping):
// x = cap * tanh(x / cap), which bounds x to (-cap, cap) and keeps its order (argmax is unchanged).
#include <cstdint>

namespace synaptix::kernels {

// In place over n values; cap must be > 0.
void softcap_reference(float* x, int64_t n, float cap);

}  // namespace synaptix::kernels
