// Device-side decoding of Synaptix's weight formats (quant/weight_format.h), shared by the decode GEMV
// (quant_gemv.cu) and the expansion to bf16 (quant_dequant.cu). A packed row is cut into "units", the piece
// one lane decodes at a time; each format's unit yields 2 or 4 elements and their scale.
// #defines from the generator (quant_gemv_source.cpp):
//   QFMT 1: int4 per group (GROUP = 32/64/128 elements, ASYM 0/1), 2: fp8-e4m3-pc, 3: int8-pc, 4: mxfp4.
//  - int4-gG: a row is k / G blocks of HDR + G/2 bytes (HDR 2: f16 d; 4: f16 d, u8 zero point, u8 0); byte j
//    of the codes holds element j in its low nibble and element j + G/2 in its high one; w = d * (c - z), z = 8
//    when symmetric. A unit is 2 code bytes (elements e, e + 1, e + G/2, e + G/2 + 1): the blocks are only
//    2-byte aligned (66 bytes for G = 128).
//  - fp8-e4m3-pc / int8-pc: a row is an f32 scale then k codes (k % 4 == 0, rows 4-byte aligned); a unit is 4
//    codes (one 32-bit load); the scale is applied once per row.
//  - mxfp4: k / 32 blocks of 17 bytes: u8 E8M0 exponent X, then 16 bytes in nibble order (element j low, j + 16
//    high); w = 2^(X - 127) * e2m1(c). A unit is 1 code byte (blocks are byte aligned).

// Loops the kernels unroll (a macro so that the host emulation in tests, compiled by a host compiler that does
// not know the pragma, can define it away).
#ifndef QD_UNROLL
#define QD_UNROLL _Pragma("unroll")
#endif

__device__ __forceinline__ float qd_half_to_float(unsigned short h) {
#ifdef __CUDA_ARCH__
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  return QD_HOST_HALF_TO_FLOAT(h);  // the CPU emulation's (tests/kernels/quant_decode_cuda_emulation_test.cpp)
#endif
}

// E4M3 to f32: sign to bit 31, exponent and mantissa to bits 20..26 (2^-120 times the value, subnormals
// exact as f32 subnormals), times 2^120. The NaN code is not produced by the quantizers.
__device__ __forceinline__ float qd_e4m3(unsigned int c) {
  return __int_as_float(((c & 0x80u) << 24) | ((c & 0x7fu) << 20)) * 1.329227995784916e36f;
}

// E2M1 to f32, the same way: exponent and mantissa to bits 22..24 (2^-126 times the value), times 2^126.
__device__ __forceinline__ float qd_e2m1(unsigned int c) {
  return __int_as_float(((c & 0x8u) << 28) | ((c & 0x7u) << 22)) * 8.507059173023462e37f;
}

// E8M0 to f32: 2^(X - 127); X = 0 is the f32 subnormal 2^-127.
__device__ __forceinline__ float qd_e8m0(unsigned int x) {
  return x == 0 ? __int_as_float(0x00400000) : __int_as_float((int)(x << 23));
}

__device__ __forceinline__ float qd_i8(unsigned int c) { return (float)((int)(c << 24) >> 24); }

#if QFMT == 1
#define QD_HDR (ASYM ? 4 : 2)
#define QD_BLOCK_BYTES (QD_HDR + GROUP / 2)
#define QD_UNITS_PER_BLOCK (GROUP / 4)
// Units in a row of k elements.
__device__ __forceinline__ int qd_units(int k) { return k >> 2; }
__device__ __forceinline__ long long qd_row_bytes(int k) { return (long long)(k / GROUP) * QD_BLOCK_BYTES; }
struct QdUnit {
  unsigned int codes;  // 2 code bytes
  float d;
  float z;
};
__device__ __forceinline__ QdUnit qd_load(const unsigned char* __restrict__ row, int u) {
  const int b = u / QD_UNITS_PER_BLOCK, j = 2 * (u % QD_UNITS_PER_BLOCK);
  const unsigned char* blk = row + (size_t)b * QD_BLOCK_BYTES;
  QdUnit r;
  r.codes = __ldg(reinterpret_cast<const unsigned short*>(blk + QD_HDR + j));
  r.d = qd_half_to_float(__ldg(reinterpret_cast<const unsigned short*>(blk)));
#if ASYM
  r.z = (float)__ldg(blk + 2);
#else
  r.z = 8.f;
#endif
  return r;
}
// The unit's first element (the others: + 1, + GROUP / 2, + GROUP / 2 + 1).
__device__ __forceinline__ int qd_first(int u) {
  return (u / QD_UNITS_PER_BLOCK) * GROUP + 2 * (u % QD_UNITS_PER_BLOCK);
}
// The four weights of the unit, in the order e, e + 1, e + G/2, e + G/2 + 1.
__device__ __forceinline__ void qd_values(const QdUnit& q, float* w) {
  w[0] = q.d * ((float)(q.codes & 15u) - q.z);
  w[1] = q.d * ((float)((q.codes >> 8) & 15u) - q.z);
  w[2] = q.d * ((float)((q.codes >> 4) & 15u) - q.z);
  w[3] = q.d * ((float)((q.codes >> 12) & 15u) - q.z);
}
#define QD_VALUES_PER_UNIT 4
#define QD_SECOND_HALF (GROUP / 2)

#elif QFMT == 2 || QFMT == 3
__device__ __forceinline__ int qd_units(int k) { return k >> 2; }
__device__ __forceinline__ long long qd_row_bytes(int k) { return 4ll + k; }
struct QdUnit {
  unsigned int codes;  // 4 codes
};
__device__ __forceinline__ QdUnit qd_load(const unsigned char* __restrict__ row, int u) {
  QdUnit r;
  r.codes = __ldg(reinterpret_cast<const unsigned int*>(row + 4) + u);
  return r;
}
__device__ __forceinline__ int qd_first(int u) { return 4 * u; }
__device__ __forceinline__ float qd_row_scale(const unsigned char* __restrict__ row) {
  return __ldg(reinterpret_cast<const float*>(row));
}
// The four codes' values before the row scale, elements 4u .. 4u + 3.
__device__ __forceinline__ void qd_values(const QdUnit& q, float* w) {
#if QFMT == 2
  w[0] = qd_e4m3(q.codes); w[1] = qd_e4m3(q.codes >> 8); w[2] = qd_e4m3(q.codes >> 16); w[3] = qd_e4m3(q.codes >> 24);
#else
  w[0] = qd_i8(q.codes); w[1] = qd_i8(q.codes >> 8); w[2] = qd_i8(q.codes >> 16); w[3] = qd_i8(q.codes >> 24);
#endif
}
#define QD_VALUES_PER_UNIT 4
#define QD_ROW_SCALE 1

#elif QFMT == 4
__device__ __forceinline__ int qd_units(int k) { return k >> 1; }
__device__ __forceinline__ long long qd_row_bytes(int k) { return (long long)(k >> 5) * 17; }
struct QdUnit {
  unsigned int code;  // 1 code byte
  float s;
};
__device__ __forceinline__ QdUnit qd_load(const unsigned char* __restrict__ row, int u) {
  const unsigned char* blk = row + (size_t)(u >> 4) * 17;
  QdUnit r;
  r.code = __ldg(blk + 1 + (u & 15));
  r.s = qd_e8m0(__ldg(blk));
  return r;
}
__device__ __forceinline__ int qd_first(int u) { return (u >> 4) * 32 + (u & 15); }
// The two weights of the unit: elements e and e + 16.
__device__ __forceinline__ void qd_values(const QdUnit& q, float* w) {
  w[0] = qd_e2m1(q.code) * q.s;
  w[1] = qd_e2m1(q.code >> 4) * q.s;
}
#define QD_VALUES_PER_UNIT 2
#define QD_SECOND_HALF 16

#else
#error "QFMT must be 1 (int4-gG), 2 (fp8-e4m3-pc), 3 (int8-pc) or 4 (mxfp4)"
#endif
