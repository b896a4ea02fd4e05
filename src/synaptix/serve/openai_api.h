#pragma once
// The OpenAI request schema for /v1/completions and /v1/chat/completions: parsing with the checks a client
// gets a 4xx for (wrong types, out-of-range values, unknown model), and the error body OpenAI clients expect:
//   {"error": {"message": ..., "type": "invalid_request_error", "param": "max_tokens", "code": null}}
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/serve/json_guard.h"

namespace synaptix::serve {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string type = "invalid_request_error",
           std::string code = "")
      : Error(message), status_(status), param_(std::move(param)), type_(std::move(type)), code_(std::move(code)) {}
  int status() const { return status_; }
  nlohmann::json body() const;

 private:
  int status_;
  std::string param_, type_, code_;
};

struct CompletionParams {
  bool chat = false;
  std::string model;
  // Completions: text, or token ids. Chat: the messages array (rendered by the chat template later).
  std::optional<std::string> prompt_text;
  std::vector<int32_t> prompt_ids;
  nlohmann::json messages;
  std::optional<int64_t> max_tokens;  // none: completions 16, chat up to the context
  int64_t min_tokens = 0;
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::vector<std::string> stop;
  float temperature = 1.0f, top_p = 1.0f, presence_penalty = 0.0f, frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  int top_k = 0;
  std::optional<uint64_t> seed;
  bool logprobs = false;  // the chosen token's log probability (top alternatives are not returned)
  bool echo = false;
  bool ignore_eos = false;  // vLLM extension: generate exactly max_tokens
};

inline constexpr int kMaxChoices = 16;

// `served_model` is the id this server answers to; another model name is a 404 model_not_found.
CompletionParams parse_completion_request(const nlohmann::json& body, bool chat, const std::string& served_model);
// Parses the raw HTTP body; malformed JSON, or JSON past `limits` (checked before parsing), is a 400.
nlohmann::json parse_json_body(const std::string& body, const JsonLimits& limits = {});

}  // namespace synaptix::serve
