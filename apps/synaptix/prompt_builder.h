#pragma once
// Turns a user's prompt into token ids the way the reference stack does: a plain prompt is encoded with the
// tokenizer's special tokens (BOS where the model adds one); a chat prompt is rendered through the model's
// chat template (which writes its own BOS text) and encoded without adding any.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synaptix::model { class Tokenizer; }

namespace synaptix::app {

std::vector<int32_t> encode_prompt(const model::Tokenizer& tok, const std::string& prompt);
std::vector<int32_t> encode_chat(const model::Tokenizer& tok, const nlohmann::json& messages,
                                 bool add_generation_prompt = true);

}  // namespace synaptix::app
