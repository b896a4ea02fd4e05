#include "synaptix/serve/openai_api.h"

#include <cmath>
#include <limits>

namespace synaptix::serve {

nlohmann::json ApiError::body() const {
  nlohmann::json e = {{"message", what()}, {"type", type_}};
  e["param"] = param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_);
  e["code"] = code_.empty() ? nlohmann::json(nullptr) : nlohmann::json(code_);
  return {{"error", e}};
}

nlohmann::json parse_json_body(const std::string& body, const JsonLimits& limits) {
  check_json_limits(body, limits);
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
  if (!j.is_object()) throw ApiError(400, std::string("the request body must be a JSON object, got ") + j.type_name());
  return j;
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) { throw ApiError(400, "'" + param + "' " + msg, param); }

bool present(const nlohmann::json& b, const char* k) { return b.contains(k) && !b[k].is_null(); }

double number(const nlohmann::json& b, const char* k, double lo, double hi) {
  const auto& v = b[k];
  if (!v.is_number()) bad(k, std::string("must be a number, got ") + v.type_name());
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) bad(k, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  return x;
}

int64_t integer(const nlohmann::json& b, const char* k, int64_t lo, int64_t hi) {
  const auto& v = b[k];
  if (!v.is_number_integer()) bad(k, std::string("must be an integer, got ") + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    bad(k, "is out of range: " + v.dump());
  }
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad(k, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  return x;
}

bool boolean(const nlohmann::json& b, const char* k) {
  if (!b[k].is_boolean()) bad(k, std::string("must be a boolean, got ") + b[k].dump());
  return b[k].get<bool>();
}

std::vector<int32_t> token_array(const nlohmann::json& a, const char* k) {
  std::vector<int32_t> ids;
  for (const auto& t : a) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      bad(k, "token ids must be non-negative integers, got " + t.dump());
    }
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return ids;
}

void parse_prompt(const nlohmann::json& b, CompletionParams& p) {
  if (!b.contains("prompt")) bad("prompt", "is required");
  const auto& v = b["prompt"];
  if (v.is_string()) {
    p.prompt_text = v.get<std::string>();
    return;
  }
  if (!v.is_array() || v.empty()) bad("prompt", "must be a string, an array of token ids, or a one-element array of those");
  if (v[0].is_number()) {
    p.prompt_ids = token_array(v, "prompt");
    return;
  }
  if (v.size() != 1) bad("prompt", "holds " + std::to_string(v.size()) + " prompts; this server takes one per request");
  if (v[0].is_string()) {
    p.prompt_text = v[0].get<std::string>();
  } else if (v[0].is_array() && !v[0].empty()) {
    p.prompt_ids = token_array(v[0], "prompt");
  } else {
    bad("prompt", "must be a string, an array of token ids, or a one-element array of those");
  }
}

void parse_messages(const nlohmann::json& b, CompletionParams& p) {
  if (!b.contains("messages")) bad("messages", "is required");
  const auto& m = b["messages"];
  if (!m.is_array() || m.empty()) bad("messages", "must be a non-empty array");
  p.messages = nlohmann::json::array();
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    const auto& msg = m[i];
    if (!msg.is_object()) bad(where, "must be an object");
    if (!msg.contains("role") || !msg["role"].is_string()) bad(where + ".role", "must be a string");
    nlohmann::json out = msg;
    if (msg.contains("content") && msg["content"].is_array()) {
      // Content parts: the text parts, concatenated (this server takes no images or audio).
      std::string text;
      for (const auto& part : msg["content"]) {
        // Type checks before any get: json::value("type", "") throws type_error on a non-string type.
        const bool text_part = part.is_object() && part.contains("type") && part["type"].is_string() &&
                               part["type"].get<std::string>() == "text" && part.contains("text") &&
                               part["text"].is_string();
        if (!text_part) {
          bad(where + ".content", "parts must be {\"type\": \"text\", \"text\": ...}");
        }
        text += part["text"].get<std::string>();
      }
      out["content"] = text;
    } else if (msg.contains("content") && !msg["content"].is_string() && !msg["content"].is_null()) {
      bad(where + ".content", "must be a string, null or an array of text parts");
    }
    p.messages.push_back(out);
  }
}

}  // namespace

CompletionParams parse_completion_request(const nlohmann::json& b, bool chat, const std::string& served_model) {
  CompletionParams p;
  p.chat = chat;
  if (!b.contains("model") || !b["model"].is_string()) bad("model", "is required and must be a string");
  p.model = b["model"].get<std::string>();
  if (p.model != served_model) {
    throw ApiError(404, "The model '" + p.model + "' does not exist (this server serves '" + served_model + "')",
                   "model", "invalid_request_error", "model_not_found");
  }
  if (chat) {
    parse_messages(b, p);
  } else {
    parse_prompt(b, p);
  }
  const char* max_key = chat && present(b, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (present(b, max_key)) p.max_tokens = integer(b, max_key, 1, std::numeric_limits<int32_t>::max());
  if (!chat && !p.max_tokens) p.max_tokens = 16;  // OpenAI's default for completions
  if (present(b, "min_tokens")) p.min_tokens = integer(b, "min_tokens", 0, std::numeric_limits<int32_t>::max());
  if (present(b, "n")) p.n = static_cast<int>(integer(b, "n", 1, kMaxChoices));
  if (present(b, "stream")) p.stream = boolean(b, "stream");
  if (present(b, "stream_options")) {
    const auto& so = b["stream_options"];
    if (!so.is_object()) bad("stream_options", "must be an object");
    if (present(so, "include_usage")) p.include_usage = boolean(so, "include_usage");
  }
  if (present(b, "stop")) {
    const auto& s = b["stop"];
    if (s.is_string()) {
      p.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 4) bad("stop", "takes at most 4 sequences");
      for (const auto& x : s) {
        if (!x.is_string()) bad("stop", "must be a string or an array of strings");
        p.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "must be a string or an array of strings");
    }
    for (const auto& x : p.stop) {
      if (x.empty()) bad("stop", "sequences must not be empty");
    }
  }
  if (present(b, "temperature")) p.temperature = static_cast<float>(number(b, "temperature", 0.0, 2.0));
  if (present(b, "top_p")) {
    p.top_p = static_cast<float>(number(b, "top_p", 0.0, 1.0));
    if (p.top_p <= 0.0f) bad("top_p", "must be greater than 0");
  }
  if (present(b, "top_k")) p.top_k = static_cast<int>(integer(b, "top_k", -1, 1 << 20));
  if (p.top_k < 0) p.top_k = 0;  // vLLM spells "off" as -1
  if (present(b, "presence_penalty")) p.presence_penalty = static_cast<float>(number(b, "presence_penalty", -2.0, 2.0));
  if (present(b, "frequency_penalty")) {
    p.frequency_penalty = static_cast<float>(number(b, "frequency_penalty", -2.0, 2.0));
  }
  if (present(b, "repetition_penalty")) {
    p.repetition_penalty = static_cast<float>(number(b, "repetition_penalty", 1e-3, 100.0));
  }
  if (present(b, "seed")) {
    const auto& v = b["seed"];
    if (!v.is_number_integer()) bad("seed", "must be an integer");
    p.seed = v.is_number_unsigned() ? v.get<uint64_t>() : static_cast<uint64_t>(v.get<int64_t>());
  }
  if (present(b, "logprobs")) {
    if (chat) {
      p.logprobs = boolean(b, "logprobs");
    } else {
      p.logprobs = integer(b, "logprobs", 0, 5) > 0;
    }
  }
  if (present(b, "echo")) {
    if (chat) bad("echo", "is not a chat completions parameter");
    p.echo = boolean(b, "echo");
    if (p.echo && p.stream) bad("echo", "is not supported with stream");
  }
  if (present(b, "ignore_eos")) p.ignore_eos = boolean(b, "ignore_eos");
  if (present(b, "best_of") && integer(b, "best_of", 1, kMaxChoices) != p.n) {
    bad("best_of", "other than n is not supported");
  }
  return p;
}

}  // namespace synaptix::serve
