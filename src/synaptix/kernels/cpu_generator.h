#pragma once
// A CPU kernel generator: one way to compute an op, with parameters (the schedule). It declares its search
// space for a given op and target and emits C++ source (generated_abi.h's ABI) specialised to the op's
// constant shapes for one point of that space. Vendor-library tactics (OpenBLAS) are generators too: their
// source calls the library, and their module links it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"

namespace synaptix::kernels {

struct ParamDim {
  std::string name;
  std::vector<nlohmann::json> values;
};

struct KernelSource {
  std::string code;
  std::vector<std::string> libs;  // extra link flags
};

class CpuGenerator {
 public:
  virtual ~CpuGenerator() = default;
  virtual std::string name() const = 0;
  // Whether this generator can compute `op` on `cpu` at all.
  virtual bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const = 0;
  // The declared search space; every point of the cartesian product that valid() accepts is a candidate.
  virtual std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const = 0;
  virtual bool valid(const graph::Op& op, const nlohmann::json& point) const = 0;
  // Throws synaptix::Error naming the parameter when `point` is not in the space.
  virtual KernelSource emit(const graph::Op& op, const nlohmann::json& point) const = 0;
  // The activations the point computes with: "f32" (exact to f32 rounding) or a rounding of x ("bf16", "q8"),
  // a precision choice the tuner offers only where the run allows it.
  virtual std::string activations(const nlohmann::json& point) const { return "f32"; }
};

// Every CPU generator, in a fixed order.
const std::vector<const CpuGenerator*>& cpu_generators();
// By name; throws naming the generator when unknown.
const CpuGenerator& cpu_generator(const std::string& name);

}  // namespace synaptix::kernels
