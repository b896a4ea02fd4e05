#include "synaptix/backend/module_builder.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/hw/cpu_isa_mask.h"

extern char** environ;

namespace synaptix::backend {
namespace {

bool file_exists(const std::string& p) {
  struct stat st{};
  return ::stat(p.c_str(), &st) == 0 && st.st_size > 0;
}

// Runs argv with stdout+stderr into log_path; returns the exit status (or -1 when it could not start).
int run_to_log(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string tail_of_file(const std::string& path, size_t max_chars) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > max_chars ? "..." + s.substr(s.size() - max_chars) : s;
}

}  // namespace

ModuleBuilder::ModuleBuilder(std::string cache_dir, hw::HostCompiler compiler)
    : dir_(std::move(cache_dir) + "/modules"), compiler_(std::move(compiler)) {
  flags_ = {"-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno", "-w"};
  // A masked CPU (SYNAPTIX_CPU_MASK): candidates must not use what it hides, not even by auto-vectorising.
  for (auto& f : hw::isa_mask_compiler_flags(hw::isa_mask_from_env())) flags_.push_back(std::move(f));
  make_dirs(dir_);
}

std::string ModuleBuilder::key(const ModuleSource& src) const {
  std::string k = src.code;
  k += '\0';
  k += compiler_.command + '\0' + compiler_.id + '\0' + compiler_.version + '\0';
  for (const auto& f : flags_) k += f + '\0';
  k += "libs:";
  for (const auto& l : src.libs) k += l + '\0';
  return sha256_hex(k);
}

BuiltModule ModuleBuilder::build(const ModuleSource& src) const {
  BuiltModule b;
  b.key = key(src);
  b.path = dir_ + "/" + b.key + ".so";
  if (file_exists(b.path)) {
    b.ok = b.cache_hit = true;
    return b;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string cpp = dir_ + "/" + b.key + ".cpp";
  {
    std::ofstream f(cpp, std::ios::binary);
    f << src.code;
    if (!f) fail("cannot write kernel source ", cpp);
  }
  // Compile to a private name and rename: concurrent builders of one key never see half a file.
  std::string tmp = b.path + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  std::string log = dir_ + "/" + b.key + ".log";
  std::vector<std::string> argv{compiler_.command};
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  argv.insert(argv.end(), {cpp, "-o", tmp});
  argv.insert(argv.end(), src.libs.begin(), src.libs.end());
  int rc = run_to_log(argv, log);
  b.compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rc != 0) {
    ::unlink(tmp.c_str());
    b.error = rc < 0 ? "cannot start compiler '" + compiler_.command + "'"
                     : "compiler exit status " + std::to_string(rc) + ":\n" + tail_of_file(log, 2000);
    return b;
  }
  if (::rename(tmp.c_str(), b.path.c_str()) != 0) fail("cannot move compiled module to ", b.path);
  ::unlink(log.c_str());
  b.ok = true;
  return b;
}

std::vector<BuiltModule> ModuleBuilder::build_all(const std::vector<ModuleSource>& srcs, int jobs) const {
  std::vector<BuiltModule> out(srcs.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < srcs.size();) {
      try {
        out[i] = build(srcs[i]);
      } catch (const Error& e) {
        out[i].error = e.what();
      }
    }
  };
  std::vector<std::thread> ts;
  for (int j = 1; j < std::max(1, jobs) && static_cast<size_t>(j) < srcs.size(); ++j) ts.emplace_back(work);
  work();
  for (auto& t : ts) t.join();
  return out;
}

}  // namespace synaptix::backend
