#include "synaptix/backend/cuda/nvrtc_compiler.h"

#include <nvrtc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"

namespace synaptix::backend::cuda {
namespace {

void check_nvrtc(nvrtcResult r, const char* what, const std::string& name) {
  if (r != NVRTC_SUCCESS) fail(what, " for kernel source '", name, "': ", nvrtcGetErrorString(r));
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

}  // namespace

std::string nvrtc_version() {
  int major = 0, minor = 0;
  check_nvrtc(nvrtcVersion(&major, &minor), "nvrtcVersion", "-");
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string cubin_cache_dir() {
  std::string base;
  if (const char* d = std::getenv("SYNAPTIX_CACHE_DIR"); d && *d) {
    base = d;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    base = std::string(x) + "/synaptix";
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = std::string(h) + "/.cache/synaptix";
  } else {
    base = "/tmp/synaptix-cache";
  }
  return base + "/cubin";
}

CompiledCubin compile_cubin(const std::string& source, const std::string& arch, const std::string& name,
                            const std::vector<std::string>& options) {
  std::vector<std::string> opts = {"--gpu-architecture=" + arch, "-std=c++17", "--device-as-default-execution-space"};
  opts.insert(opts.end(), options.begin(), options.end());

  std::string keytext = source;
  keytext += '\0' + arch + '\0' + nvrtc_version();
  for (const auto& o : opts) keytext += '\0' + o;
  CompiledCubin out;
  out.key = sha256_hex(keytext);

  const std::string dir = cubin_cache_dir();
  const std::string path = dir + "/" + out.key + ".cubin";
  if (std::string cached = read_all(path); !cached.empty()) {
    out.cubin = std::move(cached);
    out.from_cache = true;
    return out;
  }

  nvrtcProgram prog = nullptr;
  check_nvrtc(nvrtcCreateProgram(&prog, source.c_str(), (name + ".cu").c_str(), 0, nullptr, nullptr),
              "nvrtcCreateProgram", name);
  std::vector<const char*> argv;
  for (const auto& o : opts) argv.push_back(o.c_str());
  nvrtcResult r = nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  size_t log_size = 0;
  nvrtcGetProgramLogSize(prog, &log_size);
  out.log.resize(log_size);
  if (log_size > 0) nvrtcGetProgramLog(prog, out.log.data());
  while (!out.log.empty() && (out.log.back() == '\0' || out.log.back() == '\n')) out.log.pop_back();
  if (r != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&prog);
    fail("NVRTC could not compile kernel source '", name, "' for ", arch, ": ", nvrtcGetErrorString(r), "\n", out.log);
  }
  size_t cubin_size = 0;
  r = nvrtcGetCUBINSize(prog, &cubin_size);
  if (r == NVRTC_SUCCESS) {
    out.cubin.resize(cubin_size);
    r = nvrtcGetCUBIN(prog, out.cubin.data());
  }
  nvrtcDestroyProgram(&prog);
  check_nvrtc(r, "nvrtcGetCUBIN", name);

  // Write to a unique temporary name, then rename: concurrent compilers of the same key never see half a file.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) {
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    std::ofstream f(tmp, std::ios::binary);
    if (f.write(out.cubin.data(), static_cast<std::streamsize>(out.cubin.size())) && (f.close(), true)) {
      std::filesystem::rename(tmp, path, ec);
    }
    if (ec) std::filesystem::remove(tmp, ec);
  }
  return out;
}

}  // namespace synaptix::backend::cuda
