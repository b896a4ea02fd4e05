// Register-level decoding of the tensor-core layout of Synaptix's weight formats (quant_mma_layout.h) into
// f16x2 operands of mma.m16n8k16, and the index math the layout and the activation pre-pass share. Written
// with plain integer operations (and prmt / sub.f16x2, emulated on the host) so that the host test
// (tests/kernels/quant_mma_emulation_test.cpp) compiles this same text and checks the fragment mapping
// against the formats' CPU dequantization reference without a GPU.
// #defines from the generator (quant_gemv_source.cpp): QFMT (1 int4-gG, 2 fp8-e4m3-pc, 3 int8-pc, 4 mxfp4),
// GROUP and ASYM for int4.
//
// The k order inside one mma (the ISA's A fragment: lane (g = lane / 4, q = lane % 4) holds row g and g + 8
// at k slots 2q, 2q + 1 and 2q + 8, 2q + 9; B holds the same k slots of token column g): the product does
// not depend on which real k a slot stands for as long as A and B agree, so slot 2q + j stands for k = 4q + j
// and slot 2q + 8 + j for k = 4q + 2 + j (j = 0, 1). A lane thus needs 4 consecutive k of each of its two rows
// per mma step of 16 k, and the same 4 k of x: one 32-bit word of 8-bit codes, half a word of 4-bit codes.
// A 16-byte word of the layout holds a lane's codes of one row for QM_STEPS consecutive steps (64 k of 8-bit
// codes, 128 k of 4-bit codes).

#ifndef QM_UNROLL
#define QM_UNROLL _Pragma("unroll")
#endif

#if QFMT == 2 || QFMT == 3
#define QM_STEPS 4  // mma steps (16 k each) per 16-byte word of a row
#else
#define QM_STEPS 8
#endif
#define QM_WORD_K (16 * QM_STEPS)
#if QFMT == 1
#define QM_GROUP_STEPS (GROUP / 16)  // steps sharing one scale
#elif QFMT == 4
#define QM_GROUP_STEPS 2
#else
#define QM_GROUP_STEPS QM_STEPS  // per-channel: the row scale is applied at the end
#endif
#define QM_GROUPS_PER_WORD (QM_STEPS / QM_GROUP_STEPS)
// What the decoded values must be multiplied by: E2M1 is decoded as its value times 2^-14 (the bit moves
// below), the others exactly.
#if QFMT == 4
#define QM_OUT_SCALE 16384.f
#else
#define QM_OUT_SCALE 1.f
#endif

#ifdef __CUDA_ARCH__
__device__ __forceinline__ unsigned int qm_prmt(unsigned int a, unsigned int b, unsigned int sel) {
  unsigned int d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}
__device__ __forceinline__ unsigned int qm_hsub2(unsigned int a, unsigned int b) {
  unsigned int d;
  asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
__device__ __forceinline__ unsigned int qm_hfma2(unsigned int a, unsigned int b, unsigned int c) {
  unsigned int d;
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}
__device__ __forceinline__ float qm_half_to_float(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
// f32 pair to f16x2 (lo in the low half), rounded to nearest even.
__device__ __forceinline__ unsigned int qm_f16x2(float lo, float hi) {
  unsigned int d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}
// Four E4M3 codes (bytes 0..3) to f16x2 (bytes 0, 1) and (2, 3), exactly (every E4M3 value is an f16).
__device__ __forceinline__ void qm_e4m3x4(unsigned int w, unsigned int& lo, unsigned int& hi) {
  asm("{\n .reg .b16 l, h;\n mov.b32 {l, h}, %2;\n cvt.rn.f16x2.e4m3x2 %0, l;\n cvt.rn.f16x2.e4m3x2 %1, h;\n}"
      : "=r"(lo), "=r"(hi) : "r"(w));
}
#else
// Host forms (the test defines QM_HOST_HALF_TO_FLOAT / QM_HOST_FLOAT_TO_HALF): prmt without the sign mode.
inline unsigned int qm_prmt(unsigned int a, unsigned int b, unsigned int sel) {
  const unsigned long long v = ((unsigned long long)b << 32) | a;
  unsigned int d = 0;
  for (int i = 0; i < 4; ++i) d |= (unsigned int)((v >> (8 * ((sel >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return d;
}
inline unsigned int qm_hsub2(unsigned int a, unsigned int b) {
  const float lo = QM_HOST_HALF_TO_FLOAT((unsigned short)a) - QM_HOST_HALF_TO_FLOAT((unsigned short)b);
  const float hi = QM_HOST_HALF_TO_FLOAT((unsigned short)(a >> 16)) - QM_HOST_HALF_TO_FLOAT((unsigned short)(b >> 16));
  return (unsigned int)QM_HOST_FLOAT_TO_HALF(lo) | ((unsigned int)QM_HOST_FLOAT_TO_HALF(hi) << 16);
}
inline unsigned int qm_hfma2(unsigned int a, unsigned int b, unsigned int c) {
  unsigned int d = 0;
  for (int i = 0; i < 2; ++i) {
    const float v = QM_HOST_HALF_TO_FLOAT((unsigned short)(a >> (16 * i))) * QM_HOST_HALF_TO_FLOAT((unsigned short)(b >> (16 * i))) +
                    QM_HOST_HALF_TO_FLOAT((unsigned short)(c >> (16 * i)));
    d |= (unsigned int)QM_HOST_FLOAT_TO_HALF(v) << (16 * i);
  }
  return d;
}
inline float qm_half_to_float(unsigned short h) { return QM_HOST_HALF_TO_FLOAT(h); }
// cvt.rn.f16x2.e4m3x2 on the host: E4M3 to f16 by its bits (sign to 15, exponent and mantissa to 7..13: the
// value times 2^-8, subnormals too), times 2^8.
inline unsigned short qm_host_e4m3(unsigned int c) {
  const unsigned short b = (unsigned short)(((c & 0x80u) << 8) | ((c & 0x7fu) << 7));
  return QM_HOST_FLOAT_TO_HALF(QM_HOST_HALF_TO_FLOAT(b) * 256.f);
}
inline void qm_e4m3x4(unsigned int w, unsigned int& lo, unsigned int& hi) {
  lo = qm_host_e4m3(w & 0xff) | ((unsigned int)qm_host_e4m3((w >> 8) & 0xff) << 16);
  hi = qm_host_e4m3((w >> 16) & 0xff) | ((unsigned int)qm_host_e4m3(w >> 24) << 16);
}
#endif

// Where x[t, i] goes in the pre-pass's f16 layout of x (k_pad a multiple of 64): token tiles of 8, then
// blocks of 64 k, then the lane that feeds it to the B operand, 16 halves a lane (4 per step: 4s + j).
__device__ __forceinline__ long long qm_x_index(int t, int i, int k_pad) {
  const int kb = i >> 6, r = i & 63, s = r >> 4, q = (r >> 2) & 3, j = r & 3;
  const int lane = 4 * (t & 7) + q;
  return (((long long)(t >> 3) * (k_pad >> 6) + kb) * 32 + lane) * 16 + 4 * s + j;
}

// The A operand halves of one row for step s (0..QM_STEPS-1) of a 16-byte word w[4]: lo = k 4q, 4q + 1
// (slots 2q, 2q + 1), hi = k 4q + 2, 4q + 3 (slots 2q + 8, 2q + 9). zc: int4's f16x2 of 1024 + zero point.
// 8-bit codes: word s holds k 4q..4q+3 in bytes 0..3. 4-bit: word s / 2 holds steps s and s + 1 as nibbles at
// bits 4p (low half of the pair) and 16 + 4p (high half), p = 2 (s % 2) for lo and p + 1 for hi.
// int4: pairs 0 and 2 are the nibbles under 0x000f000f of the word and of the word >> 8, ORed under 1024
// (0x6400) and less 1024 + z; pairs 1 and 3 the nibbles under 0x00f000f0 (1024 + 16c), times 1/16 less 64 + z.
__device__ __forceinline__ unsigned int qm_int4_low(unsigned int w, unsigned int zc) {
  return qm_hsub2((w & 0x000f000fu) | 0x64006400u, zc);
}
__device__ __forceinline__ unsigned int qm_int4_high(unsigned int w, unsigned int zc) {
  // -(64 + z) in each half: 0xd400 (-64) plus z / 64 of mantissa (16 z).
  return qm_hfma2((w & 0x00f000f0u) | 0x64006400u, 0x2c002c00u, 0xd400d400u + ((zc - 0x64006400u) << 4));
}
// E2M1 as an f16 of its value times 2^-14: magnitude bits to 9..11, sign to 15.
__device__ __forceinline__ unsigned int qm_e2m1_pair(unsigned int w, int p) {
  const unsigned int v = (w >> (4 * p)) & 0x000f000fu;
  return ((v & 0x00080008u) << 12) | ((v & 0x00070007u) << 9);
}

__device__ __forceinline__ void qm_decode(const unsigned int* w, int s, unsigned int zc, unsigned int& lo, unsigned int& hi) {
#if QFMT == 2
  (void)zc;
  qm_e4m3x4(w[s], lo, hi);
#elif QFMT == 3
  (void)zc;
  // 1024 + (c ^ 0x80) as f16 (0x64 above each byte), minus 1152: the signed code.
  const unsigned int u = w[s] ^ 0x80808080u;
  lo = qm_hsub2(qm_prmt(u, 0x64646464u, 0x5140u), 0x64806480u);
  hi = qm_hsub2(qm_prmt(u, 0x64646464u, 0x7362u), 0x64806480u);
#elif QFMT == 1
  const unsigned int word = (s & 1) ? w[s >> 1] >> 8 : w[s >> 1];
  lo = qm_int4_low(word, zc);
  hi = qm_int4_high(word, zc);
#else
  (void)zc;
  const unsigned int word = w[s >> 1];
  const int p = 2 * (s & 1);
  lo = qm_e2m1_pair(word, p);
  hi = qm_e2m1_pair(word, p + 1);
#endif
}
