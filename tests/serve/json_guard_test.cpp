// The pre-parse bounds on request bodies: nesting depth counted outside strings only, values counted, and
// bodies far past the limits (a million levels, the shape that overflowed the stack) refused quickly.
#include "synaptix/serve/json_guard.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "synaptix/serve/openai_api.h"

using namespace synaptix::serve;

namespace {

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string refusal(const std::string& body, const JsonLimits& limits = {}) {
  try {
    check_json_limits(body, limits);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(JsonGuard, DepthIsCountedOutsideStringsOnly) {
  JsonLimits lim;
  lim.max_depth = 4;
  EXPECT_EQ(refusal(nested(4), lim), "");
  EXPECT_NE(refusal(nested(5), lim).find("deeper than 4 levels (at byte 4)"), std::string::npos);
  // Brackets inside strings, escaped quotes included, are text.
  EXPECT_EQ(refusal(R"({"a":"[[[[[[[[\"[[[[{{{{"})", lim), "");
  EXPECT_EQ(refusal(R"(["\\",[[[]]]])", lim), "");  // an escaped backslash ends before the quote
  EXPECT_NE(refusal(R"(["\\",[[[[]]]]])", lim), "");
  // Depth is the nesting at one time, not the total number of brackets.
  EXPECT_EQ(refusal("[" + std::string(100, ' ') + "[],[],[],[[[]]],[[[]]]]", lim), "");
}

TEST(JsonGuard, ValueCountIsBounded) {
  JsonLimits lim;
  lim.max_values = 5;
  EXPECT_EQ(refusal("[1,2,3,4]", lim), "");            // the array and four numbers
  EXPECT_NE(refusal("[1,2,3,4,5]", lim), "");
  EXPECT_EQ(refusal(R"({"k":"v","x":true})", lim), "");  // object, two keys, two values
  EXPECT_NE(refusal(R"({"k":"v","x":true,"y":null})", lim), "");
  EXPECT_EQ(refusal("[123456789, -1.5e+10]", lim), "");  // multi-character numbers count once
}

TEST(JsonGuard, MillionLevelBodiesAreRefusedBeforeParsing) {
  const std::string nest = nested(1'000'000);
  for (const std::string& body : {R"({"model":"m","prompt":"x","max_tokens":)" + nest + "}",
                                  R"({"model":"m","prompt":"x","stream":)" + nest + "}",
                                  R"({"model":"m","messages":[{"role":"user","content":"x","extra":)" + nest + "}]}",
                                  std::string(2'000'000, '{')}) {
    try {
      parse_json_body(body);
      ADD_FAILURE() << "accepted a body nested a million levels deep";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_NE(std::string(e.what()).find("deeper than 64 levels"), std::string::npos) << e.what();
    }
  }
  // The default depth leaves room for real requests: 64 levels parse.
  EXPECT_NO_THROW(parse_json_body(R"({"a":)" + nested(63) + "}"));
  EXPECT_THROW(parse_json_body(R"({"a":)" + nested(64) + "}"), ApiError);
}
