#include "synaptix/backend/cache_dir.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>

#include "synaptix/core/error.h"

namespace synaptix::backend {

std::string default_cache_dir() {
  if (const char* d = std::getenv("SYNAPTIX_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/synaptix";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/synaptix";
}

void make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      fail("cannot create directory ", part, ": ", std::strerror(errno));
  }
}

}  // namespace synaptix::backend
