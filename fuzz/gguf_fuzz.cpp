// Fuzz target: a GGUF file, through everything that reads one when a model is served from it: the container
// (header, metadata, tensor infos, data section), the Spec its metadata maps to, the tokenizer it carries (then
// a fixed text encoded and decoded) and the model load (tensor names and shapes checked), both with the blocks
// kept as the file stores them (the default) and dequantized to bf16.
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "synaptix/model/gguf.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace model = synaptix::model;
  static const synaptix::fuzz::ScratchFile scratch("model.gguf");
  const std::string& path = scratch.write(data, size);
  volatile size_t sink = 0;
  bool has_spec = false;
  synaptix::fuzz::expect_clean([&] {
    const model::GgufFile file(path);
    // Every tensor the reader accepted must lie inside the map: read its first and last byte.
    for (const auto& t : file.tensors()) {
      if (t.nbytes < 0 || t.numel < 0) std::abort();
      if (t.nbytes > 0) sink = sink + t.data[0] + t.data[t.nbytes - 1];
    }
    sink = sink + model::gguf_spec(file).num_layers;
    has_spec = true;
  });
  synaptix::fuzz::expect_clean([&] {
    const auto tok = model::Tokenizer::load(path);
    const std::vector<int32_t> ids = tok.encode("Hello, world! 123 héllo 日本語 🙂", true);
    sink = sink + tok.decode(ids).size();
  });
  if (has_spec) {
    synaptix::fuzz::expect_clean([&] { sink = sink + model::load_gguf_model(path)->owned.size(); });
    synaptix::fuzz::expect_clean(
        [&] { sink = sink + model::load_gguf_model(path, model::GgufWeights::Bf16)->owned.size(); });
  }
  return 0;
}
