// Fuzz target: a whole safetensors file (8-byte header length, JSON header, data) as SafetensorsFile reads it
// from disk. The input is written to a per-process temporary file, since the reader takes a path and maps it.
// After a successful load every tensor's bytes are read, so a view that reaches past the map faults here.
#include <cstdlib>

#include "fuzz_support.h"
#include "synaptix/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using synaptix::model::SafetensorsFile;
  static const synaptix::fuzz::ScratchFile scratch("model.safetensors");
  const std::string& path = scratch.write(data, size);
  synaptix::fuzz::expect_clean([&] {
    SafetensorsFile file(path);
    volatile uint8_t sink = 0;
    for (const auto& [name, t] : file.tensors()) {
      // The reader promises shape x dtype = byte count; a tensor that breaks it would mislead every kernel.
      const size_t elem = synaptix::dtype_size(t.dtype);
      size_t expect = elem;
      bool empty = false;
      for (int64_t d : t.shape) {
        if (d < 0) std::abort();
        empty = empty || d == 0;
      }
      for (int64_t d : t.shape) {
        if (!empty && __builtin_mul_overflow(expect, static_cast<size_t>(d), &expect)) std::abort();
      }
      if (empty) expect = 0;
      if (expect != t.nbytes) std::abort();
      const auto* bytes = static_cast<const uint8_t*>(t.data);
      for (size_t i = 0; i < t.nbytes; i += 4096) sink = sink + bytes[i];
      if (t.nbytes) sink = sink + bytes[t.nbytes - 1];
    }
  });
  return 0;
}
