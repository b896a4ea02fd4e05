// Gemma's turn format for GGUF files without a chat template: rendered as Google documents it for Gemma 3
// (the expected strings are written out by hand from that format), and picked up by the real gemma-3-270m
// GGUF, which carries no template, while SmolLM2's file keeps its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "synaptix/model/builtin_chat_templates.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::model {

namespace {
const nlohmann::json kExtra = {{"bos_token", "<bos>"}, {"eos_token", "<eos>"}};
}

TEST(GemmaTurnTemplate, RendersGemmaTurns) {
  const ChatTemplate t(gemma_turn_template());
  const nlohmann::json conv = {{{"role", "system"}, {"content", "Answer briefly."}},
                               {{"role", "user"}, {"content", "Hi "}},
                               {{"role", "assistant"}, {"content", "Hello."}},
                               {{"role", "user"}, {"content", "What is 2+2?"}}};
  EXPECT_EQ(t.render(conv, true, kExtra),
            "<bos><start_of_turn>user\nAnswer briefly.\n\nHi<end_of_turn>\n"
            "<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
            "<start_of_turn>model\n");
  const nlohmann::json one = {{{"role", "user"}, {"content", "Hi"}}};
  EXPECT_EQ(t.render(one, false, kExtra), "<bos><start_of_turn>user\nHi<end_of_turn>\n");
}

TEST(GemmaTurnTemplate, TheRealGemmaFileGetsItAndSmolLM2KeepsItsOwn) {
  const auto models = std::filesystem::path(SYNAPTIX_SOURCE_DIR) / "models";
  const auto gemma = models / "gemma-3-270m-q4_k_m.gguf", smol = models / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(gemma) || !std::filesystem::exists(smol))
    GTEST_SKIP() << "real models not installed (scripts/install-models.sh)";
  const Tokenizer g = Tokenizer::load(gemma.string());
  EXPECT_EQ(g.chat_template(), gemma_turn_template());
  const Tokenizer s = Tokenizer::load(smol.string());
  EXPECT_NE(s.chat_template().find("<|im_start|>"), std::string::npos);
  // The rendered turns tokenize to Gemma's turn tokens, not to their spelled-out pieces.
  const auto ids = g.encode(ChatTemplate(g.chat_template()).render({{{"role", "user"}, {"content", "Hi"}}}, true,
                                                                   {{"bos_token", g.bos_token()}}),
                            /*add_special_tokens=*/false);
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(ids[0], 2);    // <bos>
  EXPECT_EQ(ids[1], 105);  // <start_of_turn>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 106), 1);  // <end_of_turn>
}

}  // namespace synaptix::model
