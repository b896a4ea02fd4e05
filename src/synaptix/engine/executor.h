#pragma once
// The executor runs one forward step of a model over a batch of sequence chunks: decode tokens of running
// sequences and prefill chunks of new ones, mixed in one step. It owns the KV cache storage (paged: blocks of
// `block_size` positions); *which* blocks belong to which sequence is decided by the caller (the scheduler)
// and passed in as each chunk's block table.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "synaptix/engine/sampler.h"
#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/model/spec.h"

namespace synaptix::model { struct Model; }

namespace synaptix::engine {

struct KvConfig {
  int64_t num_blocks = 0;   // 0: enough for one sequence of max_position_embeddings
  int64_t block_size = 16;  // positions per block
  kernels::KvFormat format = kernels::KvFormat::F32;  // how K and V are stored (the CPU executor; kv_format.h)
};

struct SeqChunk {
  std::span<const int32_t> tokens;       // the new tokens of this sequence in this step (>= 1)
  int64_t start_pos = 0;                 // position of tokens[0]; KV of [0, start_pos) is already cached
  std::span<const int32_t> block_table;  // blocks covering positions [0, start_pos + tokens.size())
  bool all_logits = false;               // logits for every token (verify/perplexity), else the last only
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual const model::Spec& spec() const = 0;
  virtual int64_t num_blocks() const = 0;
  virtual int64_t block_size() const = 0;
  // Runs the step, writes the new tokens' K/V into their blocks, and fills `logits` with [rows, vocab]:
  // per chunk in order, one row per token when all_logits, else one row for its last token.
  virtual void step(std::span<const SeqChunk> chunks, std::vector<float>& logits) = 0;
};

// Greedy decoding without logits on the host, for executors that can (reach it with
// dynamic_cast<GreedyStep*>): ids gets, per logits row that step() would fill, the argmax over the vocabulary
// (lowest id among equal maxima). The CPU executor runs its recipe's fused LM head + argmax; the CUDA
// executor takes the argmax on the device.
class GreedyStep {
 public:
  virtual ~GreedyStep() = default;
  virtual void step_argmax(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) = 0;
};

// Greedy decoding with the host one step behind the device (reach it with dynamic_cast): enqueue_greedy()
// enqueues a step and returns at once; finish_greedy() waits for the oldest unfinished step and returns its
// ids (as step_argmax would). With chain_tokens every chunk's one token is ignored and the device feeds each
// row the id the previous greedy step produced for it, so the next step is enqueued before the host has read
// this one's ids. With steps > 1 (at most max_greedy_steps(chunks), each chunk one token whose block table
// covers start_pos + steps) the enqueue runs that many steps back to back, step s at start_pos + s fed the
// ids of step s - 1 on the device (multi-step scheduling: one launch, fewer step boundaries), and
// finish_greedy returns steps * rows ids, step by step. At most two enqueues in flight; other step calls
// refuse to run until they are finished.
class PipelinedGreedyStep {
 public:
  virtual ~PipelinedGreedyStep() = default;
  virtual int64_t max_greedy_steps(int64_t seqs) const = 0;
  virtual void enqueue_greedy(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) = 0;
  virtual void finish_greedy(std::vector<int32_t>& ids) = 0;
  // Whether enqueue_greedy returns before its steps have run (a device's queue), so that host work overlaps
  // them. An executor that runs them at once (the CPU's) offers the interface for its contract alone: a
  // caller gains nothing from it there but steps past a stop to discard.
  virtual bool overlaps_host() const { return true; }
};

// When a caller (generate, the serving engine) takes greedy tokens through PipelinedGreedyStep: Auto where
// the executor overlaps the host, On wherever the executor offers it (tests of the path on the CPU), Off never.
enum class Pipelining { Auto, On, Off };

inline bool use_pipelining(Pipelining mode, const PipelinedGreedyStep* p) {
  return p && (mode == Pipelining::On || (mode == Pipelining::Auto && p->overlaps_host()));
}

// Non-greedy sampling without logits on the host, for executors that can (reach it with
// dynamic_cast<SampleStep*>, then ask can_sample()): ids gets, per logits row that step() would fill, a
// token drawn under p's temperature, top-k, top-p and min-p (the kept set of engine::Sampler; penalties
// need the history and stay on the host path, so p must have none). Row r of a call with step_index s draws
// from the random stream (p.seed, s, r): the same arguments give the same tokens, but not the tokens the
// host Sampler (another generator) would draw.
class SampleStep {
 public:
  virtual ~SampleStep() = default;
  virtual bool can_sample() const = 0;
  virtual void step_sample(std::span<const SeqChunk> chunks, const SamplingParams& p, uint64_t step_index,
                           std::vector<int32_t>& ids) = 0;
};

}  // namespace synaptix::engine
