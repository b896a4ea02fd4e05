#include "synaptix/eval/trace.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"

namespace synaptix::eval {

namespace {

int64_t get_int(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = j.at(key);
  if (!v.is_number_integer()) fail(where, ": field \"", key, "\" must be an integer, got ", v.dump());
  return v.get<int64_t>();
}

}  // namespace

TraceRecord parse_trace_record(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": expected a JSON object per line, got ", j.type_name());
  TraceRecord r;
  if (j.contains("id")) {
    if (!j["id"].is_string()) fail(where, ": field \"id\" must be a string");
    r.id = j["id"].get<std::string>();
  }
  if (!j.contains("arrival_s") || !j["arrival_s"].is_number()) {
    fail(where, ": field \"arrival_s\" (seconds, a number >= 0) is missing or not a number");
  }
  r.arrival_s = j["arrival_s"].get<double>();
  if (!(r.arrival_s >= 0.0)) fail(where, ": field \"arrival_s\" must be >= 0, got ", r.arrival_s);
  const bool has_text = j.contains("prompt"), has_len = j.contains("prompt_tokens");
  if (has_text == has_len) fail(where, ": exactly one of \"prompt\" (text) or \"prompt_tokens\" (a count) is required");
  if (has_text) {
    if (!j["prompt"].is_string()) fail(where, ": field \"prompt\" must be a string");
    r.prompt = j["prompt"].get<std::string>();
  } else {
    r.prompt_tokens = get_int(j, "prompt_tokens", where);
    if (r.prompt_tokens < 1) fail(where, ": field \"prompt_tokens\" must be >= 1, got ", r.prompt_tokens);
  }
  if (!j.contains("max_tokens")) fail(where, ": field \"max_tokens\" is missing");
  r.max_tokens = get_int(j, "max_tokens", where);
  if (r.max_tokens < 1) fail(where, ": field \"max_tokens\" must be >= 1, got ", r.max_tokens);
  if (j.contains("prefix_group")) {
    if (!j["prefix_group"].is_string()) fail(where, ": field \"prefix_group\" must be a string");
    r.prefix_group = j["prefix_group"].get<std::string>();
    if (!r.prompt) {
      if (!j.contains("prefix_tokens")) fail(where, ": \"prefix_group\" needs \"prefix_tokens\"");
      r.prefix_tokens = get_int(j, "prefix_tokens", where);
      if (r.prefix_tokens < 1 || r.prefix_tokens > r.prompt_tokens) {
        fail(where, ": field \"prefix_tokens\" must be in [1, prompt_tokens=", r.prompt_tokens, "], got ",
             r.prefix_tokens);
      }
    }
  } else if (j.contains("prefix_tokens")) {
    fail(where, ": \"prefix_tokens\" given without \"prefix_group\"");
  }
  return r;
}

nlohmann::json trace_record_to_json(const TraceRecord& r) {
  nlohmann::json j;
  if (!r.id.empty()) j["id"] = r.id;
  j["arrival_s"] = r.arrival_s;
  if (r.prompt) {
    j["prompt"] = *r.prompt;
  } else {
    j["prompt_tokens"] = r.prompt_tokens;
  }
  j["max_tokens"] = r.max_tokens;
  if (!r.prefix_group.empty()) {
    j["prefix_group"] = r.prefix_group;
    if (!r.prompt) j["prefix_tokens"] = r.prefix_tokens;
  }
  return j;
}

std::vector<TraceRecord> parse_trace(const std::string& jsonl, const std::string& where) {
  std::vector<TraceRecord> out;
  std::istringstream in(jsonl);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = where + ":" + std::to_string(n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(at, ": invalid JSON: ", e.what());
    }
    out.push_back(parse_trace_record(j, at));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

std::vector<TraceRecord> read_trace(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot open trace file ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  auto r = parse_trace(ss.str(), path);
  if (r.empty()) fail("trace file ", path, " holds no requests");
  return r;
}

std::string trace_to_jsonl(const std::vector<TraceRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    out += trace_record_to_json(r).dump();
    out += '\n';
  }
  return out;
}

void write_trace(const std::string& path, const std::vector<TraceRecord>& records) {
  std::ofstream f(path, std::ios::binary);
  if (!f) fail("cannot write trace file ", path);
  f << trace_to_jsonl(records);
  if (!f) fail("error writing trace file ", path);
}

}  // namespace synaptix::eval
