#pragma once
// A compiled kernel module loaded with dlopen. Symbols are resolved eagerly (RTLD_NOW) so a module with a
// missing symbol fails at load, not in the middle of a step.
#include <string>

namespace synaptix::backend {

class Module {
 public:
  Module() = default;
  // Throws synaptix::Error with dlerror()'s text when the file cannot be loaded.
  explicit Module(const std::string& path);
  ~Module();
  Module(Module&& o) noexcept;
  Module& operator=(Module&& o) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The address of an exported C symbol; throws naming the symbol and the module when absent.
  void* symbol(const char* name) const;
  // nullptr when absent.
  void* find(const char* name) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
};

}  // namespace synaptix::backend
