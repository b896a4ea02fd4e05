// synaptix tokenize / detokenize: the tokenizer of a model directory or GGUF file on stdin and stdout, for
// checking it against the reference library by hand or from scripts. `tokenize` takes stdin byte for byte (nothing is
// stripped) and prints the ids as one JSON array without BOS/EOS; `detokenize` reads a JSON array of ids and
// prints the text with no newline added.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::app {
namespace {

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  std::string data{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (std::cin.bad()) fail("stdin: read error");
  return data;
}

int tokenize(const std::string& dir) {
  const auto tok = model::Tokenizer::load(dir);
  const auto ids = tok.encode(read_stdin(), false);
  std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  return 0;
}

int detokenize(const std::string& dir) {
  const auto tok = model::Tokenizer::load(dir);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_stdin());
  } catch (const nlohmann::json::exception& e) {
    fail("stdin: invalid JSON (expected an array of token ids): ", e.what());
  }
  if (!j.is_array()) fail("stdin: expected a JSON array of token ids, got ", j.type_name());
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number_integer() || j[i].get<int64_t>() < 0 || j[i].get<int64_t>() >= tok.vocab_size()) {
      fail("stdin[", i, "]: ", j[i].dump(), " is not a token id (expected an integer in [0, ", tok.vocab_size(), "))");
    }
    ids.push_back(static_cast<int32_t>(j[i].get<int64_t>()));
  }
  const std::string text = tok.decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

const RegisterCommand tokenize_cmd{Command{
    "tokenize", "Print the token ids of stdin (as a JSON array, no BOS/EOS) for a model's tokenizer",
    [](CLI::App& sub) -> std::function<int()> {
      auto dir = std::make_shared<std::string>();
      sub.add_option("--model", *dir,
                     "Directory holding tokenizer.json (and optionally tokenizer_config.json), or a GGUF file")
          ->required();
      return [dir] { return tokenize(*dir); };
    }}};

const RegisterCommand detokenize_cmd{Command{
    "detokenize", "Print the text of a JSON array of token ids read from stdin, for a model's tokenizer",
    [](CLI::App& sub) -> std::function<int()> {
      auto dir = std::make_shared<std::string>();
      sub.add_option("--model", *dir,
                     "Directory holding tokenizer.json (and optionally tokenizer_config.json), or a GGUF file")
          ->required();
      return [dir] { return detokenize(*dir); };
    }}};

}  // namespace
}  // namespace synaptix::app
