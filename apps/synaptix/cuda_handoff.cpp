#include "synaptix/cuda_handoff.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace synaptix::app {

bool asks_for_cuda(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--target") == 0 && i + 1 < argc && std::strncmp(argv[i + 1], "cuda", 4) == 0) return true;
    if (std::strncmp(argv[i], "--target=cuda", 13) == 0) return true;
    if (i + 1 < argc && (!std::strcmp(argv[i], "--incumbent") || !std::strcmp(argv[i], "--candidate")) && std::strstr(argv[i + 1], "target=cuda")) return true;  // eval compare
  }
  return false;
}

std::string cuda_binary() {
  // synaptix-cuda links the driver library; without a driver it could not even start.
  void* driver = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!driver) return "";
  ::dlclose(driver);
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path cuda = self.parent_path() / "synaptix-cuda";
  return fs::exists(cuda) ? cuda.string() : "";
}

int exec_cuda_binary(const std::string& binary, char** argv) {
  ::execv(binary.c_str(), argv);
  std::fprintf(stderr, "error: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace synaptix::app
