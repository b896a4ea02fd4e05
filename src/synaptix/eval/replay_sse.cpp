#include "synaptix/eval/replay_sse.h"

namespace synaptix::eval {

std::vector<std::string> SseParser::feed(const char* data, size_t n) {
  std::vector<std::string> out;
  buf_.append(data, n);
  size_t start = 0;
  for (;;) {
    const size_t nl = buf_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = buf_.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {  // end of an event
      if (has_data_) out.push_back(std::move(data_));
      data_.clear();
      has_data_ = false;
      continue;
    }
    if (line[0] == ':') continue;  // comment (keep-alive)
    const size_t colon = line.find(':');
    const std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "data") {
      if (has_data_) data_ += '\n';
      data_ += value;
      has_data_ = true;
    }
  }
  buf_.erase(0, start);
  return out;
}

}  // namespace synaptix::eval
