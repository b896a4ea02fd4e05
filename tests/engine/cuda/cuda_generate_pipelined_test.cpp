// generate() greedy on the CUDA executor runs pipelined (the next step enqueued, its token fed on the
// device, before the host reads this step's token): the same tokens as one synchronous argmax step at a
// time, the same stops (EOS, the callback) with nothing left in flight.
#include <gtest/gtest.h>

#include <vector>

#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/generator.h"
#include "synaptix/model/model.h"
#include "support/generate_tokens.h"

namespace {

namespace se = synaptix::engine;

// Forwards to the CUDA executor and counts the pipelined calls.
class Forwarding final : public se::Executor, public se::GreedyStep, public se::PipelinedGreedyStep {
 public:
  explicit Forwarding(se::CudaExecutor& ex) : ex_(ex) {}
  const synaptix::model::Spec& spec() const override { return ex_.spec(); }
  int64_t num_blocks() const override { return ex_.num_blocks(); }
  int64_t block_size() const override { return ex_.block_size(); }
  void step(std::span<const se::SeqChunk> chunks, std::vector<float>& logits) override { ex_.step(chunks, logits); }
  void step_argmax(std::span<const se::SeqChunk> chunks, std::vector<int32_t>& ids) override { ex_.step_argmax(chunks, ids); }
  int64_t max_greedy_steps(int64_t seqs) const override { return ex_.max_greedy_steps(seqs); }
  void enqueue_greedy(std::span<const se::SeqChunk> chunks, bool chain, int64_t steps) override {
    ++enqueued;
    chained += chain;
    steps_enqueued += steps;
    ex_.enqueue_greedy(chunks, chain, steps);
  }
  void finish_greedy(std::vector<int32_t>& ids) override {
    ++finished;
    ex_.finish_greedy(ids);
  }
  int enqueued = 0, chained = 0, finished = 0;
  int64_t steps_enqueued = 0;

 private:
  se::CudaExecutor& ex_;
};

using synaptix::test::generate_tokens;

TEST(CudaGenerate, PipelinedGreedyMatchesSynchronousGreedyAndStopsCleanly) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  se::KvConfig kv;
  kv.num_blocks = 16;
  auto ex = se::make_cuda_executor(*m, kv, 0, {});
  const std::vector<int32_t> prompt = {1, 15, 27, 300, 42, 7, 99, 5};
  se::GenerateOptions o;
  o.max_tokens = 24;
  o.prefill_chunk = 3;
  Forwarding piped(*ex);
  // Reference: the plain executor interface only (logits to the host, the host Sampler's greedy argmax).
  struct Plain final : se::Executor {
    se::CudaExecutor& e;
    explicit Plain(se::CudaExecutor& x) : e(x) {}
    const synaptix::model::Spec& spec() const override { return e.spec(); }
    int64_t num_blocks() const override { return e.num_blocks(); }
    int64_t block_size() const override { return e.block_size(); }
    void step(std::span<const se::SeqChunk> c, std::vector<float>& l) override { e.step(c, l); }
  } plain(*ex);
  const std::vector<int32_t> want = generate_tokens(plain, prompt, o);
  ASSERT_EQ(want.size(), 24u);
  // One step per launch, and multi-step launches of 8 steps (8 + 8 + 7 for the 23 decode steps).
  for (int64_t per_launch : {1, 8}) {
    o.greedy_steps_per_launch = per_launch;
    piped.enqueued = piped.chained = piped.finished = 0;
    piped.steps_enqueued = 0;
    const std::vector<int32_t> got = generate_tokens(piped, prompt, o);
    EXPECT_EQ(got, want) << per_launch << " steps per launch";
    const int launches = per_launch == 1 ? 23 : 3;
    EXPECT_EQ(piped.enqueued, launches);  // one decode step per token after the prefill's
    EXPECT_EQ(piped.chained, launches - 1);  // all but the first launch take their token on the device
    EXPECT_EQ(piped.finished, launches);
    EXPECT_EQ(piped.steps_enqueued, 23);

    // The callback stops after 5 tokens: what was already enqueued is finished and dropped.
    piped.enqueued = piped.finished = 0;
    EXPECT_EQ(generate_tokens(piped, prompt, o, 5), std::vector<int32_t>(want.begin(), want.begin() + 5));
    EXPECT_EQ(piped.enqueued, piped.finished);
    // EOS = the 9th token: 8 tokens, nothing in flight afterwards (a synchronous step runs).
    se::GenerateOptions e = o;
    e.eos_ids = {want[8]};
    const std::vector<int32_t> until_eos = generate_tokens(piped, prompt, e);
    size_t first = 0;
    while (want[first] != want[8]) ++first;  // the EOS id may occur earlier in the sequence
    EXPECT_EQ(until_eos, std::vector<int32_t>(want.begin(), want.begin() + static_cast<long>(first)));
  }
  std::vector<float> logits;
  const std::vector<int32_t> table = {0};
  synaptix::engine::SeqChunk c{prompt, 0, table, false};
  EXPECT_NO_THROW(ex->step({&c, 1}, logits));
}

}  // namespace
