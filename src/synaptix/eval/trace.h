#pragma once
// Workload traces: one request per line of JSONL, plain data a person can read and diff.
//   {"id": "chat-17", "arrival_s": 3.25, "prompt_tokens": 812, "max_tokens": 200,
//    "prefix_group": "system-2", "prefix_tokens": 96}
//   {"arrival_s": 3.9, "prompt": "Write a haiku about caches.", "max_tokens": 64}
// Fields: arrival_s (seconds from the start, >= 0); exactly one of prompt (text) or prompt_tokens (a length,
// >= 1: the replayer makes up that many token ids); max_tokens (>= 1); optional id; optional prefix_group
// with prefix_tokens (1..prompt_tokens): requests of one group begin with the same prefix_tokens tokens.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace synaptix::eval {

struct TraceRecord {
  std::string id;
  double arrival_s = 0.0;
  std::optional<std::string> prompt;  // text, or
  int64_t prompt_tokens = 0;          // a token count (when prompt is empty)
  int64_t max_tokens = 0;
  std::string prefix_group;  // "" when none
  int64_t prefix_tokens = 0;
};

// Parses one JSON object; `where` (e.g. "trace.jsonl:12") names it in errors, which say which field is wrong.
TraceRecord parse_trace_record(const nlohmann::json& j, const std::string& where);
nlohmann::json trace_record_to_json(const TraceRecord& r);

// Reads a JSONL file (blank lines skipped), records sorted by arrival. Throws synaptix::Error naming the line.
std::vector<TraceRecord> read_trace(const std::string& path);
std::vector<TraceRecord> parse_trace(const std::string& jsonl, const std::string& where);
void write_trace(const std::string& path, const std::vector<TraceRecord>& records);
std::string trace_to_jsonl(const std::vector<TraceRecord>& records);

}  // namespace synaptix::eval
