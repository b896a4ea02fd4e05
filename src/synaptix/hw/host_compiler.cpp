// Identifies the compiler that builds generated kernels: its identity is part of the target fingerprint and
// of every compile-cache key, since a different compiler is a different kernel.
#include <array>
#include <cstdio>
#include <cstdlib>

#include "synaptix/core/error.h"
#include "synaptix/hw/cpu_profile.h"

namespace synaptix::hw {
namespace {

std::string run_capture(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) fail("cannot run '", cmd, "'");
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (rc != 0) fail("'", cmd, "' failed with status ", rc);
  return out;
}

std::string first_line(const std::string& s) {
  auto e = s.find('\n');
  return e == std::string::npos ? s : s.substr(0, e);
}

}  // namespace

HostCompiler probe_host_compiler() {
  HostCompiler c;
  const char* env = std::getenv("SYNAPTIX_CXX");
  c.command = env && *env ? env : "c++";
  c.id = first_line(run_capture(c.command + " --version"));
  c.version = first_line(run_capture(c.command + " -dumpfullversion"));
  if (c.id.empty()) fail("host compiler '", c.command, "' printed no --version line");
  return c;
}

}  // namespace synaptix::hw
