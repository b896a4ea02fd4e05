#include "synaptix/backend/module.h"

#include <dlfcn.h>

#include <utility>

#include "synaptix/core/error.h"

namespace synaptix::backend {

Module::Module(const std::string& path) : path_(path) {
  handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* e = ::dlerror();
    fail("cannot load kernel module ", path, ": ", e ? e : "unknown dlopen error");
  }
}

Module::~Module() {
  if (handle_) ::dlclose(handle_);
}

Module::Module(Module&& o) noexcept : path_(std::move(o.path_)), handle_(std::exchange(o.handle_, nullptr)) {}

Module& Module::operator=(Module&& o) noexcept {
  if (this != &o) {
    if (handle_) ::dlclose(handle_);
    path_ = std::move(o.path_);
    handle_ = std::exchange(o.handle_, nullptr);
  }
  return *this;
}

void* Module::find(const char* name) const { return handle_ ? ::dlsym(handle_, name) : nullptr; }

void* Module::symbol(const char* name) const {
  void* s = find(name);
  if (!s) fail("kernel module ", path_, " does not export '", name, "'");
  return s;
}

}  // namespace synaptix::backend
