#include "synaptix/backend/cuda/module.h"

#include <map>
#include <mutex>
#include <tuple>

#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::backend::cuda {

using hw::cuda::check;

Module::Module(const std::string& cubin, const std::string& name) : name_(name) {
  check(cuModuleLoadData(&mod_, cubin.data()), ("cuModuleLoadData of kernel module '" + name + "'").c_str());
}

Module::~Module() {
  if (mod_) cuModuleUnload(mod_);
}

CUfunction Module::function(const char* kernel) const {
  CUfunction f = nullptr;
  CUresult r = cuModuleGetFunction(&f, mod_, kernel);
  if (r != CUDA_SUCCESS) fail("kernel '", kernel, "' not found in module '", name_, "'");
  return f;
}

const Module& cached_module(const std::string& plain_source, const std::string& name) {
  static std::mutex mu;
  // Never destroyed: at exit the contexts may already be released, and unloading into a dead context
  // crashes inside the driver; the process's exit frees the modules anyway.
  static auto& modules = *new std::map<std::pair<CUcontext, std::string>, std::unique_ptr<Module>>();
  CUcontext ctx = nullptr;
  check(cuCtxGetCurrent(&ctx), "cuCtxGetCurrent");
  if (!ctx) fail("no current CUDA context while loading kernel module '", name, "'");
  CUdevice dev = 0;
  check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  int major = 0, minor = 0;
  check(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
  check(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
  std::string arch = "sm_" + std::to_string(major) + std::to_string(minor) + (major == 9 && minor == 0 ? "a" : "");

  const KernelTrace* trace = active_trace();
  const std::string source = trace ? trace->source_prefix() + plain_source : plain_source;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(ctx, sha256_hex(source + '\0' + arch));
  auto it = modules.find(key);
  if (it != modules.end()) return *it->second;
  CompiledCubin c = compile_cubin(source, arch, name);
  auto m = std::make_unique<Module>(c.cubin, name);
  const Module& ref = *m;
  modules.emplace(key, std::move(m));
  return ref;
}

CUfunction cached_kernel(const std::string& unique_name, const std::function<std::string()>& make_source,
                         const char* kernel) {
  static std::mutex mu;
  static auto& functions = *new std::map<std::tuple<CUcontext, std::string, std::string>, CUfunction>();
  CUcontext ctx = nullptr;
  check(cuCtxGetCurrent(&ctx), "cuCtxGetCurrent");
  const KernelTrace* trace = active_trace();
  auto key = std::make_tuple(ctx, trace ? trace->source_prefix() + unique_name : unique_name, std::string(kernel));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = functions.find(key);
    if (it != functions.end()) return it->second;
  }
  CUfunction f = cached_module(make_source(), unique_name).function(kernel);
  std::lock_guard<std::mutex> lock(mu);
  functions[key] = f;
  return f;
}

namespace {
thread_local bool t_pdl = false;
}  // namespace

PdlScope::PdlScope(bool on) : prev_(t_pdl) { t_pdl = on; }
PdlScope::~PdlScope() { t_pdl = prev_; }

void launch(CUfunction f, Dim3 grid, Dim3 block, unsigned smem_bytes, CUstream stream, void** args,
            const char* what, bool pdl) {
  if (KernelTrace* trace = active_trace()) trace->note_launch(what, stream);
  CUresult r;
  if (pdl || t_pdl) {
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig cfg{};
    cfg.gridDimX = grid.x;
    cfg.gridDimY = grid.y;
    cfg.gridDimZ = grid.z;
    cfg.blockDimX = block.x;
    cfg.blockDimY = block.y;
    cfg.blockDimZ = block.z;
    cfg.sharedMemBytes = smem_bytes;
    cfg.hStream = stream;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    r = cuLaunchKernelEx(&cfg, f, args, nullptr);
  } else {
    r = cuLaunchKernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem_bytes, stream, args, nullptr);
  }
  if (r != CUDA_SUCCESS) check(r, (std::string("launch of ") + what).c_str());
}

}  // namespace synaptix::backend::cuda
