#pragma once
// JSON Schema (draft 7) validation of a model's output, for the golden sets' format-adherence checker. A thin
// wrapper over valijson (Debian's libvalijson-dev, header-only), kept to this one file so the rest of the
// code sees only nlohmann::json.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace synaptix::eval {

class JsonSchema {
 public:
  // Throws synaptix::Error starting with `where` when the schema itself is not a valid JSON Schema.
  JsonSchema(const nlohmann::json& schema, const std::string& where);
  // nullopt when `doc` validates; else the first violation, as "<root>.field: what".
  std::optional<std::string> violation(const nlohmann::json& doc) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;  // shared: a parsed schema is immutable, checkers are copied freely
};

}  // namespace synaptix::eval
