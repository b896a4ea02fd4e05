#pragma once
// A CPU kernel generator: one way to compute an op, with parameters (the schedule). It declares its search
// space for a given op and CPU (the tuner sees it through the target-neutral Generator, bound to the probed
// CPU by CpuGeneratorOn) and emits C++ source (generated_abi.h's ABI) specialised to the op's
// constant shapes for one point of that space. Vendor-library tactics (OpenBLAS) are generators too: their
// source calls the library, and their module links it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/generator.h"

namespace synaptix::kernels {

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

// A CPU generator as a Generator of the target `cpu` (which must outlive it).
class CpuGeneratorOn final : public Generator {
 public:
  CpuGeneratorOn(const CpuGenerator& g, const hw::CpuProfile& cpu) : g_(g), cpu_(cpu) {}
  std::string name() const override { return g_.name(); }
  bool applies(const graph::Op& op) const override { return g_.applies(op, cpu_); }
  std::vector<ParamDim> space(const graph::Op& op) const override { return g_.space(op, cpu_); }
  bool valid(const graph::Op& op, const nlohmann::json& point) const override { return g_.valid(op, point); }
  std::string activations(const nlohmann::json& point) const override { return g_.activations(point); }
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override { return g_.emit(op, point); }

 private:
  const CpuGenerator& g_;
  const hw::CpuProfile& cpu_;
};

}  // namespace synaptix::kernels
