// Hostile chat templates: each must fail fast with a synaptix::Error naming the limit it hit (never hang, run
// off the stack or allocate without bound), under the default limits a server uses. The published templates
// still render (chat_template_test.cpp); these cases are far outside what any of them does.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/model/chat_template.h"

namespace synaptix::model {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Generous against a loaded CI machine under ASan; the cases take a small fraction of it.
constexpr auto kFast = std::chrono::seconds(2);

const json kMessages = json::parse(R"([{"role": "user", "content": "hi"}])");

// Parses and renders `source` with `limits`; returns the error, or "" when it rendered.
std::string error_of(const std::string& source, const jinja::Limits& limits = {}, const json& messages = kMessages) {
  const auto start = Clock::now();
  std::string err;
  try {
    ChatTemplate(source, limits).render(messages, true);
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_LT(Clock::now() - start, kFast) << "took too long: " << source.substr(0, 200);
  return err;
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(ChatTemplateLimits, NestedRangeLoopsStopAtTheStepOrLoopIterationLimit) {
  // Each range() of 100000 items is 100000 steps, so the step limit comes first here.
  const std::string err =
      error_of("{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}");
  EXPECT_HAS(err, "chat template exceeds its limit of 1000000 steps (max_steps)");
  EXPECT_HAS(err, "render error at 1:");
  EXPECT_HAS(error_of("{% for i in range(100000) %}{% for c in 'abc' %}{% endfor %}{% endfor %}"),
             "chat template exceeds its limit of 200000 loop iterations (max_loop_iterations)");
  EXPECT_HAS(error_of("{% for i in range(10000000000) %}{% endfor %}"), "range() is too big");
}

TEST(ChatTemplateLimits, ExponentialMacroRecursionStopsAtTheStepLimit) {
  const std::string err = error_of(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(64) }}");
  EXPECT_HAS(err, "chat template exceeds its limit of 1000000 steps (max_steps)");
}

TEST(ChatTemplateLimits, DeepMacroRecursionStopsAtTheCallDepthLimit) {
  EXPECT_HAS(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
             "limit of 100 nested macro calls (max_call_depth)");
}

// Deep expressions inside recursive macros: each level is within its own limits, the sum is stopped by the
// evaluation-depth limit before the stack runs out (ASan would report an overflow here).
TEST(ChatTemplateLimits, DeepEvaluationStopsBeforeTheStackRunsOut) {
  const std::string nested = std::string(200, '[') + "f(n + 1)" + std::string(200, ']');
  EXPECT_HAS(error_of("{% macro f(n) %}{{ " + nested + " }}{% endmacro %}{{ f(0) }}"),
             "limit of 1000 levels of nested evaluation (max_eval_depth)");
}

TEST(ChatTemplateLimits, DoublingAString64TimesStopsAtTheStringLimit) {
  EXPECT_HAS(error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                      "{% endfor %}{{ ns.s }}"),
             "limit of 16777216 bytes in a string (max_string_bytes)");
  EXPECT_HAS(error_of("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
                      "{% endfor %}{{ ns.s }}"),
             "max_string_bytes");
  EXPECT_HAS(error_of("{{ 'x' * 1000000000000 }}"), "repetition result is too large");
}

TEST(ChatTemplateLimits, DoublingAList64TimesStopsAtTheListLimit) {
  EXPECT_HAS(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
                      "{% endfor %}{{ ns.l | length }}"),
             "limit of 1048576 items in a list (max_list_items)");
  EXPECT_HAS(error_of("{{ ([1, 2] * 100000000) | length }}"), "max_list_items");
}

TEST(ChatTemplateLimits, DeepNestingIsASyntaxErrorNotAStackOverflow) {
  const std::string deep_parens = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  std::string err = error_of(deep_parens);
  EXPECT_HAS(err, "syntax error");
  EXPECT_HAS(err, "limit of 256 levels of nesting (max_nesting)");
  EXPECT_HAS(error_of("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}"), "max_nesting");

  std::string blocks;
  for (int i = 0; i < 100000; ++i) blocks += "{% if true %}";
  EXPECT_HAS(error_of(blocks), "max_nesting");

  // Chains the parser builds with loops still make trees as deep as they are long.
  std::string sum = "{{ 1";
  for (int i = 0; i < 100000; ++i) sum += "+1";
  EXPECT_HAS(error_of(sum + " }}"), "max_nesting");
  std::string attrs = "{{ messages";
  for (int i = 0; i < 100000; ++i) attrs += ".a";
  EXPECT_HAS(error_of(attrs + " }}"), "max_nesting");
  std::string filters = "{{ 'x'";
  for (int i = 0; i < 100000; ++i) filters += "|trim";
  EXPECT_HAS(error_of(filters + " }}"), "max_nesting");
  std::string nots = "{{ ";
  for (int i = 0; i < 100000; ++i) nots += "not ";
  EXPECT_HAS(error_of(nots + "1 }}"), "max_nesting");
  EXPECT_HAS(error_of("{{ " + std::string(100000, '-') + "1 }}"), "max_nesting");
}

TEST(ChatTemplateLimits, JoinAndTojsonOfHugeResultsStopAtTheStringLimit) {
  EXPECT_HAS(error_of("{{ range(100000) | join('x' * 1000) }}"), "limit of 16777216 bytes in a joined string");
  EXPECT_HAS(error_of("{% set big = 'x' * 10000000 %}{{ [big, big, big] | join }}"), "max_string_bytes");
  EXPECT_HAS(error_of("{% set big = 'x' * 10000000 %}{{ '-'.join([big, big]) }}"), "max_string_bytes");
  EXPECT_HAS(error_of("{{ range(100000) | list | tojson(indent=1000) }}"), "max_string_bytes");
  EXPECT_HAS(error_of("{{ [1] | tojson(indent=1000000000) }}"), "indent 1000000000 is larger than 1024");
  EXPECT_HAS(error_of("{% set big = 'x' * 10000000 %}{{ [big, big] | string }}"), "max_string_bytes");
}

TEST(ChatTemplateLimits, AmplifyingStringOperationsStopAtTheStringLimit) {
  EXPECT_HAS(error_of("{{ ('a' * 1000000) | replace('a', 'b' * 50) }}"), "bytes in a replaced string");
  EXPECT_HAS(error_of("{{ ('a\n' * 1000000) | indent(100) }}"), "bytes in an indented string");
  EXPECT_HAS(error_of("{{ 'x' | indent(100000000000) }}"), "max_string_bytes");
  EXPECT_HAS(error_of("{{ '%999999999s' % 'a' }}"), "larger than 99999");
  EXPECT_HAS(error_of("{{ '%.999999999f' % 1.5 }}"), "larger than 99999");
  EXPECT_HAS(error_of("{{ ('a,' * 2000000).split(',') | length }}"), "items in a split string");
  EXPECT_HAS(error_of("{% for c in 'a' * 2000000 %}{% endfor %}"), "items in the characters of a string");
}

// Searching a megabyte needle in a megabyte text that almost matches everywhere: linear, not quadratic.
TEST(ChatTemplateLimits, SubstringSearchOfHugeNearMatchesIsFast) {
  const std::string setup = "{% set a = 'a' * 2000000 %}{% set b = a ~ 'b' %}{% set text = a ~ a %}";
  EXPECT_EQ(error_of(setup + "{{ b in text }}"), "");
  EXPECT_EQ(ChatTemplate(setup + "{{ b in text }}|{{ text.find(b) }}|{{ text.rfind(b) }}|{{ text.count(b) }}|"
                                 "{{ text.split(b) | length }}|{{ (text | replace(b, '')) | length }}")
                .render(kMessages, false),
            "False|-1|-1|0|1|4000000");
}

TEST(ChatTemplateLimits, ANamespaceHoldingItselfIsRefusedWhenPrintedOrCompared) {
  const std::string self = "{% set ns = namespace() %}{% set ns.me = ns %}";
  EXPECT_HAS(error_of(self + "{{ ns }}"), "levels of nesting in a printed value");
  EXPECT_HAS(error_of(self + "{{ ns | tojson }}"), "levels of nesting in tojson");
  EXPECT_HAS(error_of(self + "{{ ns == ns.me }}"), "levels of nesting in a comparison");
  // Rendered without printing it: the render still ends and frees the cycle (LeakSanitizer would say).
  EXPECT_EQ(error_of(self + "ok"), "");
}

TEST(ChatTemplateLimits, WallTimeLimit) {
  jinja::Limits limits;
  limits.max_seconds = 0.05;
  limits.max_steps = INT64_MAX / 2;
  limits.max_loop_iterations = INT64_MAX / 2;
  EXPECT_HAS(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", limits),
             "limit of 0.05 seconds (max_seconds)");
}

TEST(ChatTemplateLimits, LimitsAreConfigurable) {
  jinja::Limits limits;
  limits.max_loop_iterations = 10;
  EXPECT_EQ(error_of("{% for i in range(10) %}{{ i }}{% endfor %}", limits), "");
  EXPECT_HAS(error_of("{% for i in range(11) %}{{ i }}{% endfor %}", limits), "limit of 10 loop iterations");
  limits = {};
  limits.max_string_bytes = 8;
  EXPECT_HAS(error_of("{{ 'abcdefghi' }}", limits), "limit of 8 bytes in");
  limits = {};
  limits.max_nesting = 4;
  EXPECT_HAS(error_of("{{ ((((1)))) }}", limits), "limit of 4 levels of nesting");
}

TEST(ChatTemplateLimits, DeeplyNestedInputIsRefused) {
  json deep = "leaf";
  for (int i = 0; i < 300; ++i) deep = json::array({deep});
  const json messages = json::array({{{"role", "user"}, {"content", deep}}});
  EXPECT_HAS(error_of("{{ messages }}", {}, messages), "chat template input nests deeper than 256 levels");
}

}  // namespace
}  // namespace synaptix::model
