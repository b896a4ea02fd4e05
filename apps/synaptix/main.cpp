#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "synaptix/command.h"
#include "synaptix/cuda_handoff.h"
#include "synaptix/core/error.h"

namespace synaptix::app {
std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}
}  // namespace synaptix::app

int main(int argc, char** argv) {
  using namespace synaptix::app;
  CLI::App app{"synaptix: a self-tuning LLM inference runtime"};
  app.require_subcommand(1);
  auto& cmds = commands();
  // `synaptix bench serve ...` is the replay benchmark, registered as `bench-serve`.
  std::vector<char*> args(argv, argv + argc + 1);  // with the terminating null, for exec
  std::string bench_serve = "bench-serve";
  if (argc >= 3 && std::string(argv[1]) == "bench" && std::string(argv[2]) == "serve") {
    args.erase(args.begin() + 2);
    args[1] = bench_serve.data();
    argc = static_cast<int>(args.size()) - 1;
    argv = args.data();
  }
#ifndef SYNAPTIX_CUDA_BINARY
  // Hand over to synaptix-cuda for --target cuda and for the commands only it has (gpu-bench).
  bool known = argc < 2 || argv[1][0] == '-';
  for (const auto& c : cmds) known = known || c.name == argv[1];
  if (asks_for_cuda(argc, argv) || !known) {
    const std::string cuda = cuda_binary();
    if (!cuda.empty()) return exec_cuda_binary(cuda, argv);
    if (known) {
      std::fprintf(stderr, "error: --target cuda: no CUDA target here (it needs synaptix-cuda, built beside "
                           "synaptix when the CUDA toolkit is found, and a CUDA driver, libcuda.so.1)\n");
      return 1;
    }
  }
#endif
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const synaptix::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 1;
}
