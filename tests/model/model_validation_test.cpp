// Hostile model files: safetensors headers whose byte ranges overlap, are misaligned or whose shapes overflow,
// configs with impossible numbers or sizes meant to exhaust memory, tokenizers with ids outside their
// vocabulary. Each must fail fast with an error naming the file, the key or tensor, and what was expected.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/model.h"
#include "synaptix/model/safetensors.h"
#include "synaptix/model/spec.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/model/validate.h"

namespace synaptix::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
const fs::path kLlama = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/llama";

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("sx_validate_" + std::to_string(::getpid()) + "_" + name);
}

// A safetensors file with exactly this header (padded with spaces to a multiple of 8, as writers do) and
// `data_bytes` zero bytes of data.
fs::path write_raw_safetensors(const std::string& name, std::string header, size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  const fs::path p = temp_path(name);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  const uint64_t len = header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << std::string(data_bytes, '\0');
  return p;
}

std::string safetensors_error(const fs::path& p) {
  try {
    SafetensorsFile f(p.string());
  } catch (const Error& e) {
    fs::remove(p);
    return e.what();
  }
  fs::remove(p);
  return "";
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(SafetensorsValidation, OverlappingTensorsAreRefused) {
  const std::string err = safetensors_error(write_raw_safetensors(
      "overlap", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 24));
  EXPECT_HAS(err, "overlap");
  EXPECT_HAS(err, "\"a\" [0, 16)");
  EXPECT_HAS(err, "\"b\" [8, 24)");
  EXPECT_HAS(err, "sx_validate_");  // the file
}

TEST(SafetensorsValidation, TwoNamesForTheSameBytesAreRefused) {
  const std::string err = safetensors_error(write_raw_safetensors(
      "alias", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", 8));
  EXPECT_HAS(err, "overlap");
}

TEST(SafetensorsValidation, EmptyTensorsAndAdjacentRangesAreFine) {
  const fs::path p = write_raw_safetensors(
      "adjacent", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},)"
                  R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[8,16]}})", 16);
  SafetensorsFile f(p.string());
  fs::remove(p);
  EXPECT_EQ(f.tensors().size(), 3u);
}

TEST(SafetensorsValidation, MisalignedTensorIsRefused) {
  const std::string err = safetensors_error(write_raw_safetensors(
      "misaligned", R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 6));
  EXPECT_HAS(err, "tensor \"b\"");
  EXPECT_HAS(err, "not a multiple of 4");
}

TEST(SafetensorsValidation, ShapeWhoseElementCountWrapsToZeroIsRefused) {
  // 2^32 * 2^32 = 2^64 wraps to 0 in 64-bit arithmetic, which would match the empty byte range.
  const std::string err = safetensors_error(write_raw_safetensors(
      "wrap", R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0));
  EXPECT_HAS(err, "tensor \"w\"");
  EXPECT_HAS(err, "more elements than fit in 64 bits");
}

TEST(SafetensorsValidation, ShapeWhoseByteCountOverflowsIsRefused) {
  // 2^62 elements fit in int64 but 2^62 * 4 bytes does not fit in 64 bits (wraps to 0).
  const std::string err = safetensors_error(write_raw_safetensors(
      "bytes", R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0));
  EXPECT_HAS(err, "tensor \"w\"");
  EXPECT_HAS(err, "more bytes than fit in 64 bits");
}

TEST(SafetensorsValidation, NegativeOrHugeShapeEntriesAreRefused) {
  EXPECT_HAS(safetensors_error(write_raw_safetensors(
                 "neg", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0)),
             "bad shape entry -1");
  EXPECT_HAS(safetensors_error(write_raw_safetensors(
                 "huge", R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})", 0)),
             "bad shape entry 18446744073709551615");
}

// ---- the shared checks ----

TEST(ValidateHelpers, ByteRangesInsideAlignedAndDisjoint) {
  EXPECT_NO_THROW(check_byte_ranges({{"a", 0, 8, 4}, {"b", 8, 16, 8}, {"c", 16, 16, 4}}, 16, 24, "f"));
  EXPECT_THROW(check_byte_ranges({{"a", 0, 17, 1}}, 16, 0, "f"), Error);                  // past the end
  EXPECT_THROW(check_byte_ranges({{"a", 9, 8, 1}}, 16, 0, "f"), Error);                   // begin > end
  EXPECT_THROW(check_byte_ranges({{"a", 4, 8, 8}}, 16, 0, "f"), Error);                   // misaligned
  EXPECT_THROW(check_byte_ranges({{"a", 0, 4, 4}}, 16, 2, "f"), Error);                   // section offset counts
  EXPECT_THROW(check_byte_ranges({{"a", 0, 16, 1}, {"b", 4, 8, 1}}, 16, 0, "f"), Error);  // nested
  // The earlier range that reaches furthest is remembered, not only the previous one.
  EXPECT_THROW(check_byte_ranges({{"a", 0, 16, 1}, {"b", 2, 4, 1}, {"c", 8, 12, 1}}, 16, 0, "f"), Error);
}

TEST(ValidateHelpers, CheckedArithmetic) {
  const std::vector<int64_t> big = {int64_t{1} << 40, int64_t{1} << 30};
  EXPECT_THROW(checked_numel(big, "x"), Error);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{}, "x"), 1);
  EXPECT_EQ(checked_nbytes(std::vector<int64_t>{3, 5}, 2, "x"), 30u);
  EXPECT_THROW(checked_mul(uint64_t{1} << 40, uint64_t{1} << 30, "x", "size"), Error);
  EXPECT_THROW(checked_add(UINT64_MAX, 1, "x", "end"), Error);
  EXPECT_THROW(check_positive(0.0, "cfg", "eps"), Error);
  EXPECT_THROW(check_positive(-1e-6, "cfg", "eps"), Error);
  EXPECT_THROW(check_positive(std::numeric_limits<double>::infinity(), "cfg", "eps"), Error);
  EXPECT_THROW(check_finite(std::numeric_limits<double>::quiet_NaN(), "cfg", "x"), Error);
  EXPECT_THROW(check_token_id(5, 5, "cfg", "eos_token_id"), Error);
  EXPECT_NO_THROW(check_token_id(4, 5, "cfg", "eos_token_id"));
  const std::vector<int32_t> ids = {1, 2, -3};
  try {
    check_token_ids(ids, 10, "request");
    FAIL() << "no error for a negative id";
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "token id at position 2 -3 is outside the vocabulary");
  }
}

// ---- config.json ----

json fixture_config() {
  return json::parse(read_text_file((kLlama / "config.json").string()));
}

std::string spec_error(const json& config) {
  try {
    parse_spec(config, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigValidation, NegativeOrZeroEpsilonIsRefused) {
  json c = fixture_config();
  c["rms_norm_eps"] = -1;
  std::string err = spec_error(c);
  EXPECT_HAS(err, "config.json: key \"rms_norm_eps\" is -1, expected a finite number > 0");
  c["rms_norm_eps"] = 0.0;
  EXPECT_HAS(spec_error(c), "rms_norm_eps");
}

TEST(ConfigValidation, RopeNumbersMustBeFiniteAndPositive) {
  json c = fixture_config();
  c["rope_parameters"]["rope_theta"] = 0;
  EXPECT_HAS(spec_error(c), "key \"rope_theta\" is 0, expected a finite number > 0");
  c = fixture_config();
  c["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  EXPECT_HAS(spec_error(c), "high_freq_factor");  // equal factors divide by zero in the llama3 formula
  c["rope_parameters"] = {{"rope_type", "linear"}, {"factor", -2.0}};
  EXPECT_HAS(spec_error(c), "factor");
  c["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"original_max_position_embeddings", 1e300}};
  EXPECT_HAS(spec_error(c), "original_max_position_embeddings\" is 1e+300");
  c = fixture_config();
  c["partial_rotary_factor"] = 2.5;
  EXPECT_HAS(spec_error(c), "partial_rotary_factor");
}

TEST(ConfigValidation, HugeLayerAndExpertCountsFailFastWithTheBound) {
  const auto start = std::chrono::steady_clock::now();
  json c = fixture_config();
  c["num_hidden_layers"] = 1000000000;
  EXPECT_HAS(spec_error(c), "config.json: key \"num_hidden_layers\" is 1000000000, expected 1..1024");
  c = fixture_config();
  c["model_type"] = "mixtral";
  c["num_local_experts"] = 1000000000;
  c["num_experts_per_tok"] = 2;
  EXPECT_HAS(spec_error(c), "key \"num_local_experts\" is 1000000000, expected 1..1024");
  c = fixture_config();
  c["vocab_size"] = int64_t{1} << 40;
  EXPECT_HAS(spec_error(c), "vocab_size");
  c = fixture_config();
  c["hidden_size"] = int64_t{1} << 40;
  EXPECT_HAS(spec_error(c), "hidden_size");
  c = fixture_config();
  c["num_key_value_heads"] = c["num_attention_heads"].get<int64_t>() * 2;
  EXPECT_HAS(spec_error(c), "num_key_value_heads");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ConfigValidation, SpecialTokenIdsMustBeInTheVocabulary) {
  json c = fixture_config();
  c["eos_token_id"] = c["vocab_size"].get<int64_t>();
  EXPECT_HAS(spec_error(c), "eos_token_id");
  EXPECT_HAS(spec_error(c), "outside the vocabulary");
  c = fixture_config();
  c["bos_token_id"] = -5;
  EXPECT_HAS(spec_error(c), "bos_token_id -5 is outside the vocabulary");
}

TEST(ConfigValidation, MlpOnlyLayersMustBeLayerIndices) {
  json c = fixture_config();
  c["model_type"] = "qwen3_moe";
  c["num_experts"] = 4;
  c["num_experts_per_tok"] = 2;
  c["moe_intermediate_size"] = 16;
  c["mlp_only_layers"] = {"zero"};
  EXPECT_HAS(spec_error(c), "mlp_only_layers");
  c["mlp_only_layers"] = {99};
  EXPECT_HAS(spec_error(c), "mlp_only_layers\" holds 99");
}

// A config whose layer count passes its bound but which the weight files cannot back: refused before the
// table of expected tensors (sized by the config) is built.
TEST(ConfigValidation, LayerCountBeyondTheWeightFilesFailsBeforeTheTensorTable) {
  const fs::path dir = temp_path("layers");
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kLlama / "model.safetensors", dir / "model.safetensors");
  json c = fixture_config();
  c["num_hidden_layers"] = 1000;
  std::ofstream(dir / "config.json") << c.dump();
  std::string err;
  try {
    load_model(dir.string());
  } catch (const Error& e) {
    err = e.what();
  }
  fs::remove_all(dir);
  EXPECT_HAS(err, "describes 1000 layers");
  EXPECT_HAS(err, "weight files hold");
}

// ---- tokenizer.json ----

std::string tokenizer_error(const json& tok) {
  try {
    Tokenizer::from_json(tok.dump(), "", "tokenizer.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

json tiny_tokenizer() {
  return json{{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}},
              {"added_tokens", json::array({{{"id", 3}, {"content", "<s>"}, {"special", true}}})}};
}

TEST(TokenizerValidation, AddedTokenFarBeyondTheVocabularyIsRefused) {
  json t = tiny_tokenizer();
  EXPECT_EQ(tokenizer_error(t), "");
  t["added_tokens"][0]["id"] = 2000000000;
  EXPECT_HAS(tokenizer_error(t), "added_tokens: id 2000000000 is implausibly far beyond the vocabulary");
}

TEST(TokenizerValidation, PostProcessorIdsAndDecodedIdsMustBeInTheVocabulary) {
  json t = tiny_tokenizer();
  t["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}})},
                         {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {99}}, {"tokens", {"<s>"}}}}}}};
  EXPECT_HAS(tokenizer_error(t), "id 99 is outside the vocabulary");
  Tokenizer tok = Tokenizer::from_json(tiny_tokenizer().dump(), "", "tokenizer.json");
  const std::vector<int32_t> bad = {0, 4};
  EXPECT_THROW(tok.decode(bad), Error);
  const std::vector<int32_t> negative = {-1};
  EXPECT_THROW(tok.decode(negative), Error);
}

}  // namespace
}  // namespace synaptix::model
