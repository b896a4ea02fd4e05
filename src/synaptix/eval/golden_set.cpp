#include "synaptix/eval/golden_set.h"

#include <fstream>
#include <set>

#include "synaptix/core/error.h"

namespace synaptix::eval {
namespace {

using nlohmann::json;

void only_keys(const json& j, const std::set<std::string>& allowed, const std::string& where, const char* what) {
  for (const auto& [k, v] : j.items()) {
    if (allowed.count(k)) continue;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(where, ": unknown key \"", k, "\" in ", what, " (expected one of: ", list, ")");
  }
}

const json& need(const json& j, const char* key, const std::string& where, const char* what) {
  if (!j.contains(key)) fail(where, ": ", what, " has no \"", key, "\"");
  return j.at(key);
}

std::string need_string(const json& j, const char* key, const std::string& where, const char* what) {
  const json& v = need(j, key, where, what);
  if (!v.is_string()) fail(where, ": \"", key, "\" is ", v.type_name(), ", expected a string");
  return v.get<std::string>();
}

double need_number(const json& v, const char* key, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {  // "1,234" as GSM8K writes answers
    std::string s;
    for (char c : v.get<std::string>()) if (c != ',' && c != '$') s += c;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return d;
  }
  fail(where, ": \"", key, "\" is ", v.dump(), ", expected a number");
}

bool optional_bool(const json& j, const char* key, bool dflt, const std::string& where) {
  if (!j.contains(key)) return dflt;
  if (!j.at(key).is_boolean()) fail(where, ": \"", key, "\" is ", j.at(key).type_name(), ", expected true or false");
  return j.at(key).get<bool>();
}

Check parse_check(const json& c, const std::string& where) {
  if (!c.is_object()) fail(where, ": \"check\" is ", c.type_name(), ", expected an object with a \"type\"");
  const std::string type = need_string(c, "type", where, "\"check\"");
  Check k;
  if (type == "exact" || type == "contains") {
    only_keys(c, {"type", "answer", "ignore_case"}, where, "an exact/contains check");
    k.kind = type == "exact" ? CheckKind::Exact : CheckKind::Contains;
    const json& a = need(c, "answer", where, "the check");
    k.answer = a.is_string() ? a.get<std::string>() : a.dump();
    k.ignore_case = optional_bool(c, "ignore_case", false, where);
  } else if (type == "regex") {
    only_keys(c, {"type", "pattern"}, where, "a regex check");
    k.kind = CheckKind::Regex;
    k.pattern.emplace(need_string(c, "pattern", where, "a regex check"), where);
  } else if (type == "numeric") {
    only_keys(c, {"type", "answer", "tolerance"}, where, "a numeric check");
    k.kind = CheckKind::Numeric;
    k.number = need_number(need(c, "answer", where, "a numeric check"), "answer", where);
    if (c.contains("tolerance")) k.tolerance = need_number(c.at("tolerance"), "tolerance", where);
  } else if (type == "choice") {
    only_keys(c, {"type", "options", "answer"}, where, "a choice check");
    k.kind = CheckKind::Choice;
    const json& o = need(c, "options", where, "a choice check");
    if (!o.is_array() || o.size() < 2) fail(where, ": \"options\" is ", o.dump(), ", expected an array of at least 2 strings");
    for (const auto& s : o) {
      if (!s.is_string() || s.get<std::string>().empty())
        fail(where, ": option ", s.dump(), " is not a non-empty string");
      k.options.push_back(s.get<std::string>());
    }
    const json& a = need(c, "answer", where, "a choice check");
    if (!a.is_number_integer() || a.get<int64_t>() < 0 || a.get<int64_t>() >= static_cast<int64_t>(k.options.size()))
      fail(where, ": \"answer\" is ", a.dump(), ", expected the index of the right option (0..", k.options.size() - 1, ")");
    k.correct_option = a.get<int64_t>();
  } else if (type == "json_schema") {
    only_keys(c, {"type", "schema"}, where, "a json_schema check");
    k.kind = CheckKind::JsonSchema;
    k.schema.emplace(need(c, "schema", where, "a json_schema check"), where);
  } else if (type == "refusal") {
    only_keys(c, {"type", "refuse"}, where, "a refusal check");
    k.kind = CheckKind::Refusal;
    if (!c.contains("refuse")) fail(where, ": a refusal check has no \"refuse\" (true: must refuse, false: must not)");
    k.must_refuse = optional_bool(c, "refuse", true, where);
  } else {
    fail(where, ": check type \"", type, "\" is unknown (expected exact, contains, regex, numeric, choice, json_schema or refusal)");
  }
  return k;
}

}  // namespace

GoldenItem parse_golden_item(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": the line is ", j.type_name(), ", expected a JSON object (one item a line)");
  only_keys(j, {"id", "prompt", "messages", "max_tokens", "check"}, where, "an item");
  GoldenItem it;
  if (j.contains("id")) {
    const json& id = j.at("id");
    it.id = id.is_string() ? id.get<std::string>() : id.dump();
  }
  if (j.contains("prompt") == j.contains("messages"))
    fail(where, ": an item needs exactly one of \"prompt\" (text) or \"messages\" (chat turns)");
  if (j.contains("prompt")) {
    it.prompt = need_string(j, "prompt", where, "the item");
  } else {
    const json& m = j.at("messages");
    if (!m.is_array() || m.empty()) fail(where, ": \"messages\" is ", m.type_name(), ", expected a non-empty array");
    for (const auto& turn : m) {
      if (!turn.is_object() || !turn.contains("role") || !turn.contains("content") || !turn.at("role").is_string() ||
          !turn.at("content").is_string())
        fail(where, ": message ", turn.dump(), " is not {\"role\": string, \"content\": string}");
    }
    it.messages = m;
  }
  if (j.contains("max_tokens")) {
    const json& mt = j.at("max_tokens");
    if (!mt.is_number_integer() || mt.get<int64_t>() < 1 || mt.get<int64_t>() > 65536)
      fail(where, ": \"max_tokens\" is ", mt.dump(), ", expected an integer in 1..65536");
    it.max_tokens = mt.get<int64_t>();
  }
  if (!j.contains("check")) fail(where, ": the item has no \"check\"");
  it.check = parse_check(j.at("check"), where);
  return it;
}

std::vector<GoldenItem> load_golden_set(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open the golden set");
  std::vector<GoldenItem> items;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line.compare(b, 2, "//") == 0) continue;
    const std::string where = path + ":" + std::to_string(n);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      fail(where, ": not valid JSON (", e.what(), "); expected one item object a line");
    }
    GoldenItem it = parse_golden_item(j, where);
    it.line = n;
    if (it.id.empty()) it.id = std::to_string(n);
    items.push_back(std::move(it));
  }
  if (items.empty()) fail(path, ": the golden set has no items");
  return items;
}

}  // namespace synaptix::eval
