#pragma once
// The one table of Hugging Face tensor names and shapes per family: what load_model expects to find and what
// synth writes.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/model/spec.h"

namespace synaptix::model {

enum class TensorRole { Norm, Bias, Matrix, Embedding };

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
};

std::vector<ExpectedTensor> expected_tensors(const Spec& s);

}  // namespace synaptix::model
