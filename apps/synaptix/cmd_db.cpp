// `synaptix db stats|export [--db PATH]`: what the tuning database remembers.
#include <cstdio>
#include <fstream>
#include <string>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::app {
namespace {

struct Options {
  std::string action;
  std::string db;
  std::string out;
};

int run(const Options& o) {
  const std::string path = o.db.empty() ? tune::default_db_path() : o.db;
  if (!std::ifstream(path)) fail("tuning database ", path, " does not exist (run `synaptix tune` first, or pass --db)");
  tune::TuningDb db(path);
  if (o.action == "stats") {
    auto s = db.stats();
    std::printf("database:   %s\ntrials:     %lld\nops:        %lld\ntargets:    %lld\npromotions: %lld\n",
                path.c_str(), static_cast<long long>(s.trials), static_cast<long long>(s.ops),
                static_cast<long long>(s.targets), static_cast<long long>(s.promotions));
    std::printf("by status:\n");
    for (auto& [k, v] : s.by_status) std::printf("  %-14s %lld\n", k.c_str(), static_cast<long long>(v));
    std::printf("by generator:\n");
    for (auto& [k, v] : s.by_generator) std::printf("  %-16s %lld\n", k.c_str(), static_cast<long long>(v));
    return 0;
  }
  const std::string text = db.export_json().dump(2) + "\n";
  if (o.out.empty() || o.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    std::ofstream f(o.out);
    f << text;
    if (!f) fail("cannot write ", o.out);
  }
  return 0;
}

const RegisterCommand reg{Command{
    "db", "Tuning database: `db stats` or `db export [--out FILE]`",
    [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_option("action", o->action, "stats | export")->required()->check(CLI::IsMember({"stats", "export"}));
      sub.add_option("--db", o->db, "Tuning database (default ~/.cache/synaptix/tuning.db)");
      sub.add_option("--out", o->out, "export: write JSON here instead of stdout");
      return [o] { return run(*o); };
    }}};

}  // namespace
}  // namespace synaptix::app
