// Every command refuses out-of-range, NaN and malformed flag values at parse time, before it loads anything,
// with the flag and the valid range in the message and a non-zero exit code. (Each of these used to start:
// `serve --block-size 0` died of SIGFPE, `--port 70000` listened on another port, `--http-threads 1000000`
// spawned threads until SIGTERM went unanswered, `tune --jobs 0` was accepted.)
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/cli.h"

using synaptix::testing::run_cli;

namespace {

struct BadFlag {
  std::string args;      // a full command line whose required options are all present
  std::string expected;  // a part of the message: the flag and its range
};

// Required options with values that do not exist: a valid command line would fail later, on the model path,
// so passing these cases shows the flag was refused first.
const std::string kServe = "serve --model /nonexistent ";
const std::string kGenerate = "generate --model /nonexistent --prompt hi ";
const std::string kTune = "tune --model /nonexistent --out /nonexistent/r.json ";
const std::string kBench = "bench --model /nonexistent ";
const std::string kBenchServe = "bench-serve --url http://127.0.0.1:1 --trace /nonexistent ";

void expect_refused(const std::vector<BadFlag>& cases) {
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    // Refused by the parser (its validation exit code), not by the command failing on the missing model.
    EXPECT_EQ(r.exit_code, static_cast<int>(CLI::ExitCodes::ValidationError)) << c.args << "\n  printed: " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n  printed: " << r.output;
  }
}

}  // namespace


TEST(FlagValidation, ServeFlagsAreRefusedWithTheValidRange) {
  expect_refused({
      {kServe + "--block-size 0", "--block-size: 0 is outside [1, 1024]"},
      {kServe + "--block-size -16", "--block-size: -16 is outside [1, 1024]"},
      {kServe + "--port 70000", "--port: 70000 is outside [0, 65535]"},
      {kServe + "--port -1", "--port: -1 is outside [0, 65535]"},
      {kServe + "--http-threads 1000000", "--http-threads: 1000000 is outside [2, 4096]"},
      {kServe + "--http-threads 1", "--http-threads: 1 is outside [2, 4096]"},
      {kServe + "--kv-memory-gb nan", "--kv-memory-gb: 'nan' is not a finite number (expected one in (0, 4096])"},
      {kServe + "--kv-memory-gb -2", "--kv-memory-gb: -2 is outside (0, 4096]"},
      {kServe + "--kv-memory-gb inf", "not a finite number"},
      {kServe + "--kv-blocks -5", "--kv-blocks: -5 is outside [0, 16777216]"},
      {kServe + "--max-running 0", "--max-running: 0 is outside [1, 65536]"},
      {kServe + "--max-batched-tokens -1", "--max-batched-tokens: -1 is outside [1, 1048576]"},
      {kServe + "--max-queue 0", "--max-queue: 0 is outside [1, 1048576]"},
      {kServe + "--max-body-mb 0", "--max-body-mb: 0 is outside [1, 1024]"},
      {kServe + "--request-timeout 0", "--request-timeout: 0 is outside (0, 3600]"},
      {kServe + "--request-timeout nan", "not a finite number"},
      {kServe + "--drain-timeout -1", "--drain-timeout: -1 is outside [0, 604800]"},
      {kServe + "--port 80abc", "--port: '80abc' is not a number"},
      {kServe + "--steps-per-launch 0", "--steps-per-launch: 0 is outside [1, 64]"},
      {kServe + "--steps-per-launch 65", "--steps-per-launch: 65 is outside [1, 64]"},
  });
}

TEST(FlagValidation, GenerateFlagsAreRefusedWithTheValidRange) {
  expect_refused({
      {kGenerate + "--max-tokens 0", "--max-tokens: 0 is outside [1, 1073741824]"},
      {kGenerate + "--temperature nan", "--temperature: 'nan' is not a finite number"},
      {kGenerate + "--temperature -1", "--temperature: -1 is outside [0, 100]"},
      {kGenerate + "--top-p 0", "--top-p: 0 is outside (0, 1]"},
      {kGenerate + "--top-p 1.5", "--top-p: 1.5 is outside (0, 1]"},
      {kGenerate + "--min-p nan", "not a finite number"},
      {kGenerate + "--top-k -1", "--top-k: -1 is outside [0, 16777216]"},
      {kGenerate + "--repetition-penalty 0", "--repetition-penalty: 0 is outside (0, 100]"},
      {kGenerate + "--frequency-penalty 3", "--frequency-penalty: 3 is outside [-2, 2]"},
      {kGenerate + "--presence-penalty nan", "not a finite number"},
      {kGenerate + "--steps-per-launch 0", "--steps-per-launch: 0 is outside [1, 64]"},
  });
}

TEST(FlagValidation, TuneFlagsAreRefusedWithTheValidRange) {
  expect_refused({
      {kTune + "--jobs 0", "--jobs: 0 is outside [1, 256]"},
      {kTune + "--jobs -3", "--jobs: -3 is outside [1, 256]"},
      {kTune + "--threads -1", "--threads: -1 is outside [0, 4096]"},
      {kTune + "--sample-seconds -1", "--sample-seconds: -1 is outside (0, 3600]"},
      {kTune + "--sample-seconds nan", "not a finite number"},
      {kTune + "--budget -5s", "--budget '-5s': expected a positive count"},
      {kTune + "--budget 10parsecs", "unknown unit 'parsecs'"},
      {kTune + "--prefill-chunk 0", "--prefill-chunk: 0 is outside [1, 65536]"},
      {kTune + "--attention-ctx 0", "--attention-ctx: 0 is outside [1, 16777216]"},
  });
}

TEST(FlagValidation, BenchTraceAndVerifyFlagsAreRefusedWithTheValidRange) {
  expect_refused({
      {kBench + "--prompt-tokens 0", "--prompt-tokens: 0 is outside [1, 1048576]"},
      {kBench + "--batch 1,0,4", "--batch: 0 is outside [1, 4096]"},
      {kBench + "--repeats 0", "--repeats: 0 is outside [1, 1000]"},
      {kBenchServe + "--rate -1", "--rate: -1 is outside (0, 1000000]"},
      {kBenchServe + "--rate nan", "not a finite number"},
      {kBenchServe + "--concurrency 0", "--concurrency: 0 is outside [1, 4096]"},
      {kBenchServe + "--timeout 0", "--timeout: 0 is outside (0, 604800]"},
      {kBenchServe + "--time-scale -1", "--time-scale: -1 is outside (0, 1000000]"},
      {kBenchServe + "--slo-ttft-ms -5", "--slo-ttft-ms: -5 is outside [0, 604800000]"},
      {kBenchServe + "--token-id-max 1", "--token-id-max: 1 is outside [2, 2147483647]"},
      {"trace synth --kind chat -n 0", "0 is outside [1, 10000000]"},
      {"trace synth --kind chat --rate -1", "--rate: -1 is outside [0, 1000000]"},
      {"trace synth --kind chat --max-prompt-tokens -1", "--max-prompt-tokens: -1 is outside [0, 1073741824]"},
      {"verify --model /nonexistent --reference /nonexistent --tolerance nan", "--tolerance: 'nan' is not a finite number"},
      {"verify --model /nonexistent --reference /nonexistent --tolerance -1", "--tolerance: -1 is outside (0, 1000000]"},
  });
}

TEST(FlagValidation, ValuesAtTheEdgesOfTheRangesAreAccepted) {
  // Accepted flags reach the command, which then fails on the missing model: the error names the path.
  for (const std::string& args : {kServe + "--port 65535 --block-size 1 --http-threads 4096 --kv-memory-gb 0.5",
                                  kServe + "--port 0 --drain-timeout 0 --request-timeout 0.5",
                                  kGenerate + "--temperature 0 --top-p 1 --min-p 0 --frequency-penalty -2"}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n  printed: " << r.output;
    EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << args << "\n  printed: " << r.output;
    EXPECT_EQ(r.output.find("is outside"), std::string::npos) << args << "\n  printed: " << r.output;
  }
}
