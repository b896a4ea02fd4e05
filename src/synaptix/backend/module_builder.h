#pragma once
// Builds generated C++ into a shared object with the host compiler (`c++ -O3 -march=native -shared -fPIC`)
// and caches it: the module's file name is sha256(source, compiler identity, flags, libraries), so the same
// candidate is compiled once per machine, however many tuning runs ask for it.
#include <string>
#include <vector>

#include "synaptix/hw/cpu_profile.h"

namespace synaptix::backend {

struct ModuleSource {
  std::string code;
  std::vector<std::string> libs;  // extra link flags, e.g. "-lopenblas" for a vendor tactic
};

struct BuiltModule {
  bool ok = false;
  std::string path;   // the .so when ok
  std::string key;    // the cache key (hex sha256)
  std::string error;  // compiler diagnostics (tail) when not ok
  bool cache_hit = false;
  double compile_s = 0;
};

class ModuleBuilder {
 public:
  // Modules go to <cache_dir>/modules/. The compiler is probed once here.
  explicit ModuleBuilder(std::string cache_dir, hw::HostCompiler compiler = hw::probe_host_compiler());

  std::string key(const ModuleSource& src) const;
  // Compiles (or finds in the cache) one module; a compile error is a value (ok=false), not an exception.
  BuiltModule build(const ModuleSource& src) const;
  // Compiles several at once on `jobs` threads (each runs one compiler process); results in input order.
  std::vector<BuiltModule> build_all(const std::vector<ModuleSource>& srcs, int jobs) const;

  const std::vector<std::string>& flags() const { return flags_; }
  const hw::HostCompiler& compiler() const { return compiler_; }
  const std::string& module_dir() const { return dir_; }

 private:
  std::string dir_;
  hw::HostCompiler compiler_;
  std::vector<std::string> flags_;
};

}  // namespace synaptix::backend
