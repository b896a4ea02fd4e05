#pragma once
// The functions a chat template can call by name: Jinja's range(), dict() and namespace(), and the two that
// transformers adds, raise_exception(msg) and strftime_now(fmt).
#include "synaptix/core/error.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

// What raise_exception(msg) throws: the template author's message, unchanged, so a server can show it to
// the user who sent a conversation the template rejects.
class TemplateRaised : public synaptix::Error {
 public:
  explicit TemplateRaised(const std::string& message) : synaptix::Error(message) {}
};

Dict builtin_globals();

}  // namespace synaptix::model::jinja
