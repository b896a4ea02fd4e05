#pragma once
// UTF-8 encoding of code points (utf8proc), shared by the tokenizer and the chat-template interpreter.
#include <string>

namespace synaptix::model {

// Appends `cp` as UTF-8; a value that is no code point (above U+10FFFF) becomes U+FFFD.
void append_utf8(std::string& out, char32_t cp);

}  // namespace synaptix::model
