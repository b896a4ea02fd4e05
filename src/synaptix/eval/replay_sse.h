#pragma once
// Incremental parser of a server-sent-events stream (the subset OpenAI streaming uses): bytes arrive in
// arbitrary pieces; complete events' `data:` payloads come out in order (multi-line data joined by "\n").
#include <string>
#include <vector>

namespace synaptix::eval {

class SseParser {
 public:
  // Appends bytes; returns the data payloads of the events completed by them.
  std::vector<std::string> feed(const char* data, size_t n);

 private:
  std::string buf_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace synaptix::eval
