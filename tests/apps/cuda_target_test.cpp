// --target cuda and CUDA recipes through the CLI on a machine without a GPU: generate, serve and bench refuse
// --target cuda with the reason (no driver or no synaptix-cuda) instead of failing somewhere inside, and a
// recipe tuned for a CUDA device is refused on the CPU naming the device. The device side (a recipe's plan
// reaching the executor) is tests/registry/cuda_recipe_setup_test.cpp; on the GPU, bench/gpu/run.sh.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>

#include "support/cli.h"
#include "synaptix/registry/recipe.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
const std::string kDevice = "cuda:NVIDIA H200:sm_90a:132sm:drv13000";

bool driver_present() {
  void* d = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (d) ::dlclose(d);
  return d != nullptr;
}

// A recipe as `tune --target cuda` writes it: a whole-step plan for kDevice.
std::string cuda_recipe() {
  synaptix::registry::Recipe r;
  r.target_kind = "cuda";
  r.target_fingerprint = kDevice;
  r.target_hash = synaptix::registry::cuda_fingerprint_hash(kDevice);
  r.whole_step = synaptix::tune::WholeStepPlan{};
  r.whole_step->fuse_decode[1] = false;
  const fs::path dir = fs::temp_directory_path() / ("synaptix_cuda_target_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "h200.json").string();
  synaptix::registry::save_recipe(r, path);
  return path;
}

TEST(CudaTarget, RefusedClearlyWithoutADriver) {
  if (driver_present()) GTEST_SKIP() << "a CUDA driver is installed here: --target cuda runs (bench/gpu/run.sh checks it)";
  const std::string recipe = cuda_recipe();
  for (const std::string& args :
       {"generate --model " + kLlama + " --prompt Hi --max-tokens 2 --target cuda:0 --recipe " + recipe,
        "generate --model " + kLlama + " --prompt Hi --max-tokens 2 --target cuda",
        "bench --model " + kLlama + " --target cuda:0 --recipe " + recipe,
        "serve --model " + kLlama + " --port 0 --target cuda:0 --recipe " + recipe,
        "tune --like llama-3.1-8b --target cuda:0 --out " + recipe + ".out"}) {
    const auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("--target cuda: no CUDA target here"), std::string::npos) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("libcuda.so.1"), std::string::npos) << r.output;
  }
}

TEST(CudaTarget, CudaRecipeIsRefusedOnTheCpuNamingTheDevice) {
  const auto r = run_cli("generate --model " + kLlama + " --prompt Hi --max-tokens 2 --target cpu --recipe " + cuda_recipe());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("was tuned for a cuda target"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(kDevice), std::string::npos) << r.output;
}

}  // namespace
