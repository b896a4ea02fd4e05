#pragma once
// `synaptix` (CPU-only, starts anywhere) hands command lines that need the CUDA target to `synaptix-cuda`,
// built beside it when the toolkit is found, by exec: same arguments, same stdio, same exit code.
#include <string>

namespace synaptix::app {

// True when argv asks for the CUDA target explicitly (`--target cuda...`).
bool asks_for_cuda(int argc, char** argv);
// The synaptix-cuda beside this program, or "" when this build has none or this machine has no CUDA driver.
std::string cuda_binary();
// Replaces this process with `binary`; returns only on failure, with a message.
int exec_cuda_binary(const std::string& binary, char** argv);

}  // namespace synaptix::app
