#pragma once
// Runs the built `synaptix` CLI in a shell (stderr merged into the output) for end-to-end tests.
#include <cstdio>
#include <cstdlib>
#include <string>

namespace synaptix::testing {

struct CliResult {
  int exit_code = -1;
  std::string output;
};

// merge_stderr false: stderr is discarded and `output` is stdout alone.
inline CliResult run_cli(const std::string& args, const std::string& stdin_file = "", bool merge_stderr = true) {
  // SYNAPTIX_TEST_BINARY: the CLI where the tests run on another machine than they were built on (the GPU run).
  const char* moved = std::getenv("SYNAPTIX_TEST_BINARY");
  std::string cmd = std::string(moved && *moved ? moved : SYNAPTIX_BINARY) + " " + args;
  if (!stdin_file.empty()) cmd += " < '" + stdin_file + "'";
  cmd += merge_stderr ? " 2>&1" : " 2>/dev/null";
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace synaptix::testing
