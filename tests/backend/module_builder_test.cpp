#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "synaptix/backend/module.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/core/error.h"

namespace synaptix::backend {
namespace {

std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("synaptix_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d.string();
}

const char* kAdd = "extern \"C\" int add(int a, int b) { return a + b; }\n";

}  // namespace

TEST(ModuleBuilder, CompilesLoadsAndHitsTheCacheTheSecondTime) {
  const std::string dir = fresh_dir("cache");
  ModuleBuilder b(dir);
  auto first = b.build({kAdd, {}});
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_FALSE(first.cache_hit);
  auto second = b.build({kAdd, {}});
  ASSERT_TRUE(second.ok);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(first.path, second.path);
  // A new builder (a new process, as far as the cache knows) hits too.
  ModuleBuilder b2(dir);
  EXPECT_TRUE(b2.build({kAdd, {}}).cache_hit);
  Module m(first.path);
  auto add = reinterpret_cast<int (*)(int, int)>(m.symbol("add"));
  EXPECT_EQ(add(2, 3), 5);
  EXPECT_THROW(m.symbol("absent"), Error);
  std::filesystem::remove_all(dir);
}

TEST(ModuleBuilder, KeyCoversSourceAndLibraries) {
  ModuleBuilder b(fresh_dir("key"));
  EXPECT_NE(b.key({kAdd, {}}), b.key({std::string(kAdd) + " ", {}}));
  EXPECT_NE(b.key({kAdd, {}}), b.key({kAdd, {"-lm"}}));
  EXPECT_EQ(b.key({kAdd, {}}), b.key({kAdd, {}}));
}

TEST(ModuleBuilder, CompileErrorIsAValueWithDiagnostics) {
  ModuleBuilder b(fresh_dir("err"));
  auto r = b.build({"extern \"C\" int broken( { return; }\n", {}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("error"), std::string::npos) << r.error;
}

TEST(ModuleBuilder, ParallelBuildsKeepInputOrder) {
  const std::string dir = fresh_dir("par");
  ModuleBuilder b(dir);
  std::vector<ModuleSource> srcs;
  for (int i = 0; i < 4; ++i)
    srcs.push_back({"extern \"C\" int value(void) { return " + std::to_string(i * 7) + "; }\n", {}});
  srcs.push_back({"this is not C++", {}});
  auto out = b.build_all(srcs, 2);
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(out[i].ok) << out[i].error;
    Module m(out[i].path);
    EXPECT_EQ(reinterpret_cast<int (*)()>(m.symbol("value"))(), i * 7);
  }
  EXPECT_FALSE(out[4].ok);
  std::filesystem::remove_all(dir);
}

TEST(Module, MissingFileIsAnError) { EXPECT_THROW(Module("/nonexistent/x.so"), Error); }

}  // namespace synaptix::backend
