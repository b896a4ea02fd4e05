// The GGUF container reader: a well-formed file reads back (metadata of every type, tensors, alignment), and
// every kind of bad file is refused with an error naming the file, the key or tensor, and what was expected.
#include "synaptix/model/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "support/gguf_writer.h"
#include "synaptix/core/error.h"

using namespace synaptix;
using model::GgufFile;
using test::GgufWriter;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("synaptix_gguf_" + std::to_string(::getpid()) + "_" + name)).string();
}

// Writes the bytes and returns the message GgufFile throws (or "" if it loads).
std::string error_of(const std::vector<uint8_t>& bytes, const std::string& name = "bad.gguf") {
  const std::string path = temp_path(name);
  GgufWriter::save(path, bytes);
  std::string msg;
  try {
    GgufFile f(path);
  } catch (const Error& e) {
    msg = e.what();
  }
  std::filesystem::remove(path);
  return msg;
}

// A small valid file: a few keys and two tensors (F32 [4, 2] and Q8_0 [32]).
GgufWriter valid_writer() {
  GgufWriter w;
  w.kv_str("general.architecture", "llama");
  w.kv_u32("llama.block_count", 2);
  w.tensor_f32("a.weight", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<uint8_t> q8(34, 0);
  q8[0] = 0x00;
  q8[1] = 0x3c;  // d = 1.0 (f16)
  for (int i = 0; i < 32; ++i) q8[2 + i] = static_cast<uint8_t>(i - 16);
  w.tensor("b.weight", {32}, 8, q8);
  return w;
}

// The file's bytes must be refused with a message naming the file and holding every one of `parts`.
void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<const char*> parts) {
  const std::string msg = error_of(bytes);
  ASSERT_FALSE(msg.empty()) << "expected an error";
  EXPECT_NE(msg.find("bad.gguf"), std::string::npos) << msg;
  for (const char* part : parts) {
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

}  // namespace

TEST(GgufFile, ReadsMetadataAndTensors) {
  GgufWriter w = valid_writer();
  w.kv_i32("k.i32", -7);
  w.kv_u64("k.u64", uint64_t{1} << 40);
  w.kv_f32("k.f32", 0.5f);
  w.kv_bool("k.bool", true);
  w.kv_strs("k.strs", {"x", "", "hello"});
  w.kv_array<int32_t>("k.i32s", GgufWriter::I32, {3, -1, 4});
  w.kv_array<float>("k.f32s", GgufWriter::F32, {1.5f, -2.0f});
  // An array of two arrays of u8.
  std::vector<uint8_t> nested;
  GgufWriter::put(nested, uint32_t{GgufWriter::Array});
  GgufWriter::put(nested, uint64_t{2});
  for (uint8_t n : {uint8_t{1}, uint8_t{2}}) {
    GgufWriter::put(nested, uint32_t{GgufWriter::U8});
    GgufWriter::put(nested, uint64_t{n});
    for (uint8_t i = 0; i < n; ++i) nested.push_back(i + 10);
  }
  w.kv_raw("k.nested", GgufWriter::Array, nested);
  const std::string path = temp_path("ok.gguf");
  w.save(path);
  GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  EXPECT_EQ(f.get_int("k.i32"), -7);
  EXPECT_EQ(f.get_int("k.u64"), int64_t{1} << 40);
  EXPECT_EQ(f.get_float("k.f32"), 0.5);
  EXPECT_EQ(f.find_bool("k.bool"), true);
  EXPECT_EQ(f.string_array("k.strs"), (std::vector<std::string>{"x", "", "hello"}));
  EXPECT_EQ(f.int_array("k.i32s"), (std::vector<int64_t>{3, -1, 4}));
  EXPECT_EQ(f.float_array("k.f32s"), (std::vector<float>{1.5f, -2.0f}));
  const auto* n = f.find("k.nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->arrays.size(), 2u);
  EXPECT_EQ(n->arrays[1].raw, (std::vector<uint8_t>{10, 11}));
  EXPECT_FALSE(f.find_int("absent").has_value());
  EXPECT_THROW(f.get_int("absent"), Error);
  try {
    f.get_int("general.architecture");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"general.architecture\" has type string, expected an integer"), std::string::npos) << e.what();
  }

  ASSERT_EQ(f.tensors().size(), 2u);
  const auto* a = f.find_tensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(a->format->name, "F32");
  EXPECT_EQ(a->nbytes, 32);
  float a5;
  std::memcpy(&a5, a->data + 5 * 4, 4);
  EXPECT_EQ(a5, 6.0f);
  const auto* b = f.find_tensor("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->format->name, "Q8_0");
  EXPECT_EQ(b->nbytes, 34);
  EXPECT_EQ(b->data[2], static_cast<uint8_t>(-16));
  EXPECT_EQ((b->data - a->data) % 32, 0);
  std::filesystem::remove(path);
}

TEST(GgufFile, Version2AndCustomAlignment) {
  GgufWriter w = valid_writer();
  w.version = 2;
  w.alignment = 64;
  w.kv_u32("general.alignment", 64);
  const std::string path = temp_path("v2.gguf");
  w.save(path);
  GgufFile f(path);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.find_tensor("b.weight")->offset, 64u);
  std::filesystem::remove(path);
}

TEST(GgufFile, RefusesBadMagicAndVersion) {
  auto b = valid_writer().bytes();
  b[0] = 'X';
  expect_error(b, {"bad magic", "58 47 55 46", "expected \"GGUF\""});
  expect_error(std::vector<uint8_t>{'G', 'G'}, {"bad magic", "only 2 bytes"});
  GgufWriter w = valid_writer();
  w.version = 1;
  expect_error(w.bytes(), {"unsupported GGUF version 1 (expected 2 or 3)"});
  w.version = 0x03000000;
  expect_error(w.bytes(), {"big-endian"});
}

TEST(GgufFile, RefusesTruncatedFiles) {
  const auto full = valid_writer().bytes();
  // Cut inside the header, inside the key/values, inside the tensor infos, and inside the data.
  for (size_t keep : {size_t{10}, size_t{30}, size_t{60}, size_t{130}, full.size() - 1}) {
    SCOPED_TRACE(keep);
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(keep));
    const std::string msg = error_of(cut);
    EXPECT_NE(msg.find("bad.gguf"), std::string::npos) << msg;
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("cannot fit") != std::string::npos ||
                msg.find("runs past the end") != std::string::npos)
        << msg;
  }
  std::vector<uint8_t> cut(full.begin(), full.end() - 1);
  expect_error(cut, {"tensor \"b.weight\"", "Q8_0", "34 bytes", "runs past the end of the file"});
}

TEST(GgufFile, RefusesCountsTheFileCannotHold) {
  auto b = valid_writer().bytes();
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(b.data() + 8, &huge, 8);
  expect_error(b, {"claims 1152921504606846976 tensors", "cannot fit"});
  b = valid_writer().bytes();
  std::memcpy(b.data() + 16, &huge, 8);
  expect_error(b, {"claims 1152921504606846976 metadata entries", "cannot fit"});
}

TEST(GgufFile, RefusesLyingStringLengths) {
  GgufWriter w;
  std::vector<uint8_t> v;
  GgufWriter::put(v, uint64_t{1} << 40);  // a string "of" 2^40 bytes
  v.insert(v.end(), {'a', 'b'});
  w.kv_raw("general.name", GgufWriter::String, v);
  expect_error(w.bytes(), {"metadata key \"general.name\"", "string of 1099511627776 bytes"});
}

TEST(GgufFile, RefusesUnknownValueTypesAndBadValues) {
  GgufWriter w;
  w.kv_raw("x.y", 13, {0, 0, 0, 0});
  expect_error(w.bytes(), {"metadata key \"x.y\"", "unknown value type 13"});
  GgufWriter w2;
  w2.kv_raw("x.flag", GgufWriter::Bool, {2});
  expect_error(w2.bytes(), {"metadata key \"x.flag\"", "bool value is 2, expected 0 or 1"});
  GgufWriter w3;
  w3.kv_u32("x.dup", 1);
  w3.kv_u32("x.dup", 2);
  expect_error(w3.bytes(), {"metadata key \"x.dup\" appears twice"});
  GgufWriter w4;
  std::vector<uint8_t> arr;
  GgufWriter::put(arr, uint32_t{GgufWriter::U32});
  GgufWriter::put(arr, uint64_t{1} << 50);
  w4.kv_raw("x.arr", GgufWriter::Array, arr);
  expect_error(w4.bytes(), {"metadata key \"x.arr\"", "array of 1125899906842624 u32 elements cannot fit"});
}

TEST(GgufFile, RefusesArraysNestedTooDeep) {
  std::vector<uint8_t> v;
  for (int i = 0; i < 20; ++i) {
    GgufWriter::put(v, uint32_t{GgufWriter::Array});
    GgufWriter::put(v, uint64_t{1});
  }
  GgufWriter::put(v, uint32_t{GgufWriter::U8});
  GgufWriter::put(v, uint64_t{0});
  GgufWriter w;
  w.kv_raw("x.deep", GgufWriter::Array, v);
  expect_error(w.bytes(), {"metadata key \"x.deep\"", "nested deeper than 8"});
}

TEST(GgufFile, RefusesLongArraysOfArrays) {
  // 100k empty u8 arrays fit in the file (12 bytes each) but would cost far more as values.
  std::vector<uint8_t> v;
  GgufWriter::put(v, uint32_t{GgufWriter::Array});
  GgufWriter::put(v, uint64_t{100000});
  for (int i = 0; i < 100000; ++i) {
    GgufWriter::put(v, uint32_t{GgufWriter::U8});
    GgufWriter::put(v, uint64_t{0});
  }
  GgufWriter w;
  w.kv_raw("x.many", GgufWriter::Array, v);
  expect_error(w.bytes(), {"metadata key \"x.many\"", "array of 100000 arrays, expected at most 65536"});
}

TEST(GgufFile, RefusesBadAlignment) {
  GgufWriter w = valid_writer();
  w.kv_u32("general.alignment", 48);
  expect_error(w.bytes(), {"\"general.alignment\" is 48, expected a power of two"});
  GgufWriter w2 = valid_writer();
  w2.kv_str("general.alignment", "32");
  expect_error(w2.bytes(), {"\"general.alignment\" has type string, expected u32"});
}

TEST(GgufFile, RefusesUnknownAndUnsupportedTensorTypes) {
  GgufWriter w;
  w.tensor("t.weight", {32}, 99, std::vector<uint8_t>(64));
  expect_error(w.bytes(), {"tensor \"t.weight\"", "unknown element type id 99", "expected one of F32, F16, BF16, Q4_0"});
  GgufWriter w2;
  w2.tensor("t.weight", {256}, 16, std::vector<uint8_t>(66));
  expect_error(w2.bytes(), {"tensor \"t.weight\"", "element type IQ2_XXS (id 16) is not supported"});
}

TEST(GgufFile, RefusesBadDimensions) {
  GgufWriter w;
  w.tensor("t.weight", {1, 1, 1, 1, 1}, 0, std::vector<uint8_t>(4));
  expect_error(w.bytes(), {"tensor \"t.weight\"", "has 5 dimensions, expected 1 to 4"});
  GgufWriter w2;
  w2.tensor("t.weight", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, std::vector<uint8_t>(4));
  expect_error(w2.bytes(), {"tensor \"t.weight\"", "overflow a 64-bit element count"});
  GgufWriter w3;
  w3.tensor("t.weight", {uint64_t{1} << 61}, 0, std::vector<uint8_t>(4));  // elements fit, bytes do not
  expect_error(w3.bytes(), {"tensor \"t.weight\"", "F32 [2305843009213693952] overflows a 64-bit byte count"});
  GgufWriter w4;
  w4.tensor("t.weight", {4, 0}, 0, std::vector<uint8_t>(4));
  expect_error(w4.bytes(), {"tensor \"t.weight\"", "dimension 1 is 0"});
  GgufWriter w5;
  w5.tensor("t.weight", {33}, 2, std::vector<uint8_t>(18));
  expect_error(w5.bytes(), {"tensor \"t.weight\"", "row length 33 is not a multiple of Q4_0's block of 32 elements"});
}

TEST(GgufFile, RefusesLyingOffsetsAndSizes) {
  GgufWriter w = valid_writer();
  w.tensor_f32("c.weight", {2}, {1, 2}).offset_override = 1 << 20;
  expect_error(w.bytes(), {"tensor \"c.weight\"", "at data offset 1048576 runs past the end of the file"});
  GgufWriter w2 = valid_writer();
  w2.tensor_f32("c.weight", {2}, {1, 2}).offset_override = 8;
  expect_error(w2.bytes(), {"tensor \"c.weight\"", "data offset 8 is not a multiple of the alignment 32"});
  GgufWriter w3 = valid_writer();
  w3.tensor_f32("c.weight", {2}, {1, 2}).offset_override = 0;  // on top of a.weight
  expect_error(w3.bytes(), {"tensors \"a.weight\"", "and \"c.weight\"", "overlap"});
  GgufWriter w4;  // dims claim more data than the file has
  w4.tensor_f32("big.weight", {1024, 1024}, {1, 2, 3});
  expect_error(w4.bytes(), {"tensor \"big.weight\"", "4194304 bytes", "runs past the end of the file"});
  GgufWriter w5 = valid_writer();
  w5.tensor_f32("a.weight", {2}, {1, 2});
  expect_error(w5.bytes(), {"tensor \"a.weight\" appears twice"});
  GgufWriter w6 = valid_writer();
  w6.tensor_f32("c.weight", {2}, {1, 2}).offset_override = ~uint64_t{31};  // 2^64 - 32
  expect_error(w6.bytes(), {"tensor \"c.weight\"", "runs past the end of the file"});
}

TEST(GgufFile, MissingFileIsAnError) {
  EXPECT_THROW(GgufFile("/nonexistent/model.gguf"), Error);
}
