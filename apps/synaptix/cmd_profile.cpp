// `synaptix profile --target cpu|cuda:N`: what the tuner knows about a target, with measured ceilings.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/profile_cuda.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string target = "cpu";
  bool json = false;
  bool no_measure = false;
};

int run(const Options& o) {
  if (o.target.rfind("cuda", 0) == 0) {
    int dev = 0;
    if (o.target.size() > 4) {
      if (o.target[4] != ':' || o.target.size() == 5) fail("--target '", o.target, "': expected cpu or cuda:N");
      try {
        dev = std::stoi(o.target.substr(5));
      } catch (const std::exception&) {
        fail("--target '", o.target, "': expected cpu or cuda:N with N a device number");
      }
    }
    return profile_cuda(dev);
  }
  if (o.target != "cpu") fail("--target '", o.target, "': expected cpu or cuda:N");
  hw::CpuProfile p = hw::probe_cpu(!o.no_measure);
  if (o.json) std::printf("%s\n", hw::to_json(p).dump(2).c_str());
  else std::printf("%s", hw::describe(p).c_str());
  return 0;
}

const RegisterCommand reg{Command{
    "profile", "Probe a target: ISA, cores, caches, measured bandwidth and FLOP/s, fingerprint",
    [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("--target", o->target, "cpu or cuda:N")->capture_default_str();
      sub.add_flag("--json", o->json, "Print JSON");
      sub.add_flag("--no-measure", o->no_measure, "Skip the bandwidth and FLOP/s measurements");
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace synaptix::app
