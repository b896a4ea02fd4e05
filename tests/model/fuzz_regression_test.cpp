// Inputs the fuzz targets (fuzz/) found to crash the model-file readers, minimised, each of which must now end
// in a synaptix::Error naming the file. Each test names the target that found it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/model.h"
#include "synaptix/model/safetensors.h"
#include "synaptix/model/spec.h"

namespace synaptix::model {
namespace {

namespace fs = std::filesystem;

// A scratch directory per test, removed afterwards.
class FuzzRegression : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("sx_fuzzreg_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& bytes) const {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  static std::string safetensors_bytes(const std::string& header) {
    std::string out(8, '\0');
    uint64_t len = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    return out + header;
  }

  fs::path dir_;
};

// Expects `f` to throw synaptix::Error whose message contains `needle`; any other exception fails the test.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// fuzz_safetensors: a number no double holds made nlohmann throw out_of_range (not parse_error), which escaped
// the reader as a non-synaptix exception.
TEST_F(FuzzRegression, SafetensorsHeaderNumberOutOfRange) {
  const fs::path p = write("model.safetensors", safetensors_bytes(R"({"a":1e400})"));
  expect_error([&] { SafetensorsFile f(p.string()); }, "model.safetensors");
}

// The same number in config.json (load_spec) and in a sharded model's index (load_model).
TEST_F(FuzzRegression, ConfigNumberOutOfRange) {
  const fs::path p = write("config.json", R"({"model_type":"llama","vocab_size":1e400})");
  expect_error([&] { load_spec(p.string()); }, "config.json");
}

TEST_F(FuzzRegression, ShardIndexNumberOutOfRange) {
  fs::copy_file(fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/llama/config.json", dir_ / "config.json");
  write("model.safetensors.index.json", R"({"metadata":{"total_size":1e400},"weight_map":{}})");
  expect_error([&] { load_model(dir_.string()); }, "model.safetensors.index.json");
}

// fuzz_chat_template: abs of the smallest int64 negated it (signed overflow, UBSan); Python gives a big int,
// which the template engine has no room for, so it is an error like the other integer overflows.
TEST(FuzzRegressionTemplate, AbsOfSmallestInteger) {
  const ChatTemplate tmpl("{{ (-9223372036854775807 - 1) | abs }}");
  expect_error([&] { tmpl.render(nlohmann::json::array(), false); }, "overflow");
  EXPECT_EQ(ChatTemplate("{{ (-9223372036854775807) | abs }}").render(nlohmann::json::array(), false),
            "9223372036854775807");
}

}  // namespace
}  // namespace synaptix::model
