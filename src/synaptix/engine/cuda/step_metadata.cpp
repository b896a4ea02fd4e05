// A step's metadata: the chunks checked (token ids, block ids, table coverage) and written as int32 regions
// (token ids, positions, KV slots, sequence of each token, logits rows, block tables, flash tiles) into one
// of two pinned slots; the attention's split shape chosen; and the regions brought to the device, by the
// embedding kernel for decode steps (graph replays read them from the slot) or by copies on the stream.
#include <algorithm>
#include <cstring>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

void CudaExecutorImpl::layout_metadata() {
  const int64_t Tm = opt_.max_tokens_per_step;
  o_pos_ = Tm;
  o_slot_ = 2 * Tm;
  o_seq_ = 3 * Tm;
  o_rows_ = 4 * Tm;
  o_tab_ = 4 * Tm + opt_.max_logit_rows;
  o_tiles_ = o_tab_ + kMaxSeqsPerStep * table_stride_;
  const int64_t max_tiles = Tm / kc::kFlashTileTokens + kMaxSeqsPerStep;
  // Steps after the first of a multi-step graph (at most kSsStride sequences, no tiles) keep their
  // metadata step_stride_ ints apart, past the first step's.
  step_stride_ = o_tab_ + kSsStride * table_stride_;
  const size_t meta_n = static_cast<size_t>(o_tiles_ + 3 * max_tiles + (kMaxGraphSteps - 1) * step_stride_);
  meta_ = DeviceBuffer(meta_n * 4);
  for (int i = 0; i < 2; ++i) {
    meta_host_[i] = std::make_unique<PinnedInts>(meta_n);
    ids_host_[i] = std::make_unique<PinnedInts>(static_cast<size_t>(kMaxGraphSteps * opt_.max_logit_rows));
    check(cuEventCreate(&ids_ev_[i], CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  }
}

// Validates the chunks (token ids, block ids, table coverage) and writes the metadata into pinned memory.
// With steps > 1 (one token per chunk), also the metadata of the steps that follow: step s at every
// chunk's start_pos + s, step_stride_ ints after the step before.
StepShape CudaExecutorImpl::prepare(std::span<const SeqChunk> chunks, int64_t steps) {
  StepShape sh;
  int32_t* meta = meta_host_[meta_cur_]->data();
  if (static_cast<int64_t>(chunks.size()) > kMaxSeqsPerStep)
    fail("CUDA executor: ", chunks.size(), " sequences in one step; at most ", kMaxSeqsPerStep);
  for (size_t c = 0; c < chunks.size(); ++c) {
    const SeqChunk& ch = chunks[c];
    if (ch.tokens.empty()) fail("executor: chunk ", c, " has no tokens");
    if (ch.start_pos < 0) fail("executor: chunk ", c, " has negative start_pos ", ch.start_pos);
    const int64_t end = ch.start_pos + static_cast<int64_t>(ch.tokens.size());
    if (end > static_cast<int64_t>(ch.block_table.size()) * block_size_)
      fail("executor: chunk ", c, " reaches position ", end, " but its block table covers only ",
           ch.block_table.size() * static_cast<size_t>(block_size_));
    if (static_cast<int64_t>(ch.block_table.size()) > table_stride_)
      fail("executor: chunk ", c, " has a block table of ", ch.block_table.size(), " blocks; at most ",
           table_stride_, " fit the CUDA executor's table");
    for (int32_t b : ch.block_table)
      if (b < 0 || b >= num_blocks_) fail("executor: block id ", b, " out of range [0, ", num_blocks_, ")");
    if (ch.tokens.size() != 1 || ch.all_logits) sh.decode_only = false;
    sh.max_len = std::max(sh.max_len, end);
    std::memcpy(meta + o_tab_ + static_cast<int64_t>(c) * table_stride_, ch.block_table.data(),
                ch.block_table.size() * 4);
    for (size_t i = 0; i < ch.tokens.size(); ++i) {
      const int32_t tok = ch.tokens[i];
      if (tok < 0 || tok >= s_.vocab_size) fail("executor: token id ", tok, " out of range [0, ", s_.vocab_size, ")");
      if (sh.tokens >= opt_.max_tokens_per_step)
        fail("CUDA executor: step has more than ", opt_.max_tokens_per_step, " tokens (max_tokens_per_step)");
      const int64_t t = sh.tokens++;
      const int64_t pos = ch.start_pos + static_cast<int64_t>(i);
      if (ch.all_logits || i + 1 == ch.tokens.size()) {
        if (sh.logit_rows >= opt_.max_logit_rows)
          fail("CUDA executor: step needs more than ", opt_.max_logit_rows, " logits rows (max_logit_rows)");
        meta[o_rows_ + sh.logit_rows++] = static_cast<int32_t>(t);
      }
      meta[t] = tok;
      meta[o_pos_ + t] = static_cast<int32_t>(pos);
      meta[o_slot_ + t] = static_cast<int32_t>(ch.block_table[pos / block_size_] * block_size_ + pos % block_size_);
      meta[o_seq_ + t] = static_cast<int32_t>(c);
    }
  }
  sh.seqs = static_cast<int64_t>(chunks.size());
  if (steps > 1) prepare_following(chunks, steps, sh);
  if (use_flash(sh.tokens)) {
    // One tile per 64 consecutive tokens of a chunk (a tile never spans two sequences).
    int64_t t0 = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const int64_t n = static_cast<int64_t>(chunks[c].tokens.size());
      for (int64_t i = 0; i < n; i += kc::kFlashTileTokens) {
        int32_t* tile = meta + o_tiles_ + 3 * sh.flash_tiles++;
        tile[0] = static_cast<int32_t>(t0 + i);
        tile[1] = static_cast<int32_t>(std::min(kc::kFlashTileTokens, n - i));
        tile[2] = static_cast<int32_t>(c);
      }
      t0 += n;
    }
  }
  const auto split_it = plan_.attention_split.find(sh.tokens);
  const int64_t split = split_it == plan_.attention_split.end() ? kSplitSize : std::max<int64_t>(16, split_it->second);
  if (sh.tokens <= kMaxSplitTokens && sh.max_len > split) {
    int64_t splits = 1;
    while (splits * split < sh.max_len && splits < kMaxSplits) splits *= 2;
    sh.splits = splits;
    sh.split_size = (sh.max_len + splits - 1) / splits;
    sh.split_size = std::max<int64_t>(split, sh.split_size);
    // Round the split size so a graph captured for it serves the following steps too.
    sh.split_size = (sh.split_size + split - 1) / split * split;
  }
  // Decode-sized steps attend over at most splits * split_size positions (split with one split);
  // larger ones may read whole tables.
  const int64_t covered = sh.tokens > kMaxSplitTokens ? table_stride_ * block_size_
                          : sh.splits > 1             ? sh.splits * sh.split_size
                                                      : split;
  sh.table_used = std::min(table_stride_, (covered + block_size_ - 1) / block_size_);
  return sh;
}

void CudaExecutorImpl::prepare_following(std::span<const SeqChunk> chunks, int64_t steps, StepShape& sh) {
  if (!sh.decode_only || sh.seqs > kSsStride || steps > kMaxGraphSteps)
    fail("CUDA executor: ", steps, " steps in one graph need one token in each of at most ", kSsStride,
         " sequences (and at most ", kMaxGraphSteps, " steps)");
  for (int64_t st = 1; st < steps; ++st) {
    int32_t* meta = meta_host_[meta_cur_]->data() + st * step_stride_;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const SeqChunk& ch = chunks[c];
      const int64_t pos = ch.start_pos + st;
      if (pos >= static_cast<int64_t>(ch.block_table.size()) * block_size_)
        fail("executor: chunk ", c, " reaches position ", pos + 1, " in step ", st + 1, " of ", steps,
             " but its block table covers only ", ch.block_table.size() * static_cast<size_t>(block_size_));
      const int64_t t = static_cast<int64_t>(c);
      meta[o_rows_ + t] = static_cast<int32_t>(t);
      meta[o_pos_ + t] = static_cast<int32_t>(pos);
      meta[o_slot_ + t] = static_cast<int32_t>(ch.block_table[pos / block_size_] * block_size_ + pos % block_size_);
      meta[o_seq_ + t] = static_cast<int32_t>(c);
    }
  }
  sh.steps = steps;
  sh.max_len += steps - 1;  // the attention's splits cover the last step's context
}

// Decode steps leave the copy to the embedding kernel (see step_meta_copy); others copy it on the stream.
void CudaExecutorImpl::upload_meta(const StepShape& sh) {
  const int32_t* h = meta_host_[meta_cur_]->data();
  auto up = [&](int64_t off, int64_t n) {
    if (n > 0) check(cuMemcpyHtoDAsync(meta_.ptr() + off * 4, h + off, static_cast<size_t>(n) * 4, stream_), "upload step metadata");
  };
  // One copy of the whole span when it is small (each copy costs the stream a few us), else each used region.
  const int64_t end = sh.flash_tiles > 0 ? o_tiles_ + 3 * sh.flash_tiles : o_tab_ + sh.seqs * table_stride_;
  if (sh.decode_only) {
    // copied by the embedding kernel
  } else if (end * 4 <= (256 << 10)) {
    up(0, end);
  } else {
    up(0, sh.tokens);
    up(o_pos_, sh.tokens);
    up(o_slot_, sh.tokens);
    up(o_seq_, sh.tokens);
    up(o_rows_, sh.logit_rows);
    up(o_tab_, sh.seqs * table_stride_);
    up(o_tiles_, 3 * sh.flash_tiles);
  }
  if (s_.rope_scaling.type == "dynamic") {
    rope_ = kernels::make_rope_table(s_, sh.max_len);
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
    inv_freq_.upload(rope_.inv_freq.data(), rope_.inv_freq.size() * 4);
  }
}

// A decode step's metadata regions, for the embedding kernel to copy from the current pinned slot (its
// token ids come separately: the slot's, or ids_ when chained). Other steps upload theirs on the stream.
kc::StepMetaCopy CudaExecutorImpl::step_meta_copy(const StepShape& sh) const {
  kc::StepMetaCopy mc;
  if (!sh.decode_only) return mc;
  mc.src = meta_host_[meta_cur_]->device_ptr();
  mc.dst = meta_.ptr();
  // The tiles too: a decode step of more than flash_min_tokens sequences takes the tensor-core attention.
  // The first four regions are per step (each step of a multi-step launch has its own); the tables (only
  // their entries the attention may read) and tiles are the first step's, shared by the others.
  const int64_t table_n = sh.seqs > 0 ? (sh.seqs - 1) * table_stride_ + sh.table_used : 0;
  const int64_t regions[][2] = {{o_pos_, sh.tokens}, {o_slot_, sh.tokens}, {o_seq_, sh.tokens},
                                {o_rows_, sh.logit_rows}, {o_tab_, table_n}, {o_tiles_, 3 * sh.flash_tiles}};
  static_assert(std::size(regions) == kc::StepMetaCopy::kRegions);
  mc.per_step_regions = 4;
  for (size_t r = 0; r < std::size(regions); ++r) {
    mc.off[r] = static_cast<int32_t>(regions[r][0]);
    mc.n[r] = static_cast<int32_t>(regions[r][1]);
  }
  mc.steps = static_cast<int32_t>(sh.steps);
  mc.step_stride = static_cast<int32_t>(step_stride_);
  return mc;
}

}  // namespace synaptix::engine::cuda
