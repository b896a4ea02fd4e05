#include "synaptix/eval/json_schema.h"

#define VALIJSON_USE_EXCEPTIONS 1  // a bad schema must be an error value, not valijson's abort()
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"

namespace synaptix::eval {

struct JsonSchema::Impl {
  valijson::Schema schema;
};

JsonSchema::JsonSchema(const nlohmann::json& schema, const std::string& where) {
  if (!schema.is_object() && !schema.is_boolean())
    fail(where, ": \"schema\" is ", schema.type_name(), ", expected a JSON Schema object");
  auto impl = std::make_shared<Impl>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    fail(where, ": \"schema\" is not a valid JSON Schema (", e.what(), ")");
  }
  impl_ = std::move(impl);
}

std::optional<std::string> JsonSchema::violation(const nlohmann::json& doc) const {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(impl_->schema, target, &results)) return std::nullopt;
  valijson::ValidationResults::Error e;
  std::string where, msg = "does not match the schema";
  // valijson reports from the outside in; the last error is the innermost, most specific one.
  while (results.popError(e)) {
    where.clear();
    for (const auto& c : e.context) where += c;
    msg = e.description;
  }
  return where + ": " + msg;
}

}  // namespace synaptix::eval
