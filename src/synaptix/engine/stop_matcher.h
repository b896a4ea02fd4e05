#pragma once
// Stop strings over streamed text: text is released only once it can no longer be the start of a stop
// string, so a client never sees a stop string (or its first half) that is later cut.
#include <string>
#include <vector>

namespace synaptix::engine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds generated text; returns the text that is safe to emit now. Sets stopped() when a stop string
  // appeared (the returned text then ends just before it).
  std::string push(const std::string& text);
  // Text held back at the end of generation (no stop string matched).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace synaptix::engine
