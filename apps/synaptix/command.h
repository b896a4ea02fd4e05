#pragma once
// Each subcommand lives in its own file and registers itself here at static-initialisation time, so adding
// a command never edits main.cpp. A command's run function returns the process exit code; synaptix::Error
// thrown from it is printed as "error: <message>" with exit code 1.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace synaptix::app {

struct Command {
  std::string name;
  std::string help;
  // Declares the options on `sub` and returns the function that runs the command once they are parsed.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& commands();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace synaptix::app
