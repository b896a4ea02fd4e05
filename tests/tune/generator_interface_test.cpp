// One generator interface for every target (kernels/generator.h): the CPU target reaches its generators only
// through it (CpuGeneratorOn), and its space and moves are the ones search_space.h gives, point for point and
// move for move on the same random stream, for every op of every fixture. (At 1960cb4 this compared against
// search_space.cpp's own previous implementation and passed; search_space.cpp now wraps generator_space.) The CUDA linear generators
// (kernels/linear/cuda/linear_generators.h) list the kernel generator's schedules and cuBLASLt's algorithms
// in their order, their moves stay in that space, and equal the moves the CUDA target made before it used the
// interface (its previous code, kept here as the reference).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/error.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/model/spec.h"
#include "synaptix/tune/cpu_target.h"
#include "synaptix/tune/generator_space.h"
#include "synaptix/tune/search_space.h"
#include "tune/tune_test_util.h"
#if SYNAPTIX_HAVE_CUDA
#include "synaptix/kernels/linear/cuda/linear_generators.h"
#endif

namespace synaptix::tune {
namespace {

std::vector<std::string> keys(const SearchSpace& s) {
  std::vector<std::string> k;
  for (const auto& p : s.points) k.push_back(p.key());
  return k;
}

void expect_same_dims(const SearchSpace& a, const SearchSpace& b, const std::string& what) {
  ASSERT_EQ(a.dims.size(), b.dims.size()) << what;
  for (size_t g = 0; g < a.dims.size(); ++g) {
    EXPECT_EQ(a.dims[g].first, b.dims[g].first) << what;
    ASSERT_EQ(a.dims[g].second.size(), b.dims[g].second.size()) << what;
    for (size_t d = 0; d < a.dims[g].second.size(); ++d) {
      EXPECT_EQ(a.dims[g].second[d].name, b.dims[g].second[d].name) << what;
      EXPECT_EQ(a.dims[g].second[d].values, b.dims[g].second[d].values) << what;
    }
  }
}

// Every distinct op of every fixture's one-token decode graph and prefill graph at 512 positions (the other
// batch buckets only change m, and would make the test slow under the sanitizers).
std::vector<graph::Op> fixture_ops() {
  std::vector<graph::Op> ops;
  std::set<std::string> seen;
  const auto root = std::filesystem::path(SYNAPTIX_SHARED_DIR) / "fixtures/models";
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    const auto config = e.path() / "config.json";
    if (!std::filesystem::exists(config)) continue;
    const model::Spec s = model::load_spec(config.string());
    using K = graph::OpKind;
    const std::vector<K> kinds = {K::Embedding, K::AddRmsNorm, K::RmsNorm, K::Linear, K::Rope, K::Attention,
                                  K::GateUpSilu, K::MoeRouter, K::MoeExpert, K::Argmax, K::LmHeadArgmax};
    std::vector<graph::OpGraph> graphs;
    graphs.push_back(graph::decode_graph(s, graph::decode_buckets().front(), 512));
    graphs.push_back(graph::prefill_graph(s, 128, 512));
    for (const auto& op : graph::distinct_ops(graphs, kinds))
      if (seen.insert(op.signature()).second) ops.push_back(op);
  }
  return ops;
}

}  // namespace

TEST(GeneratorInterface, CpuTargetSpaceAndMovesAreTheCpuGeneratorsOwn) {
  const auto dir = testing::scratch_dir("generator_interface");
  backend::ModuleBuilder builder(dir);
  const hw::CpuProfile cpu = hw::probe_cpu(false);
  const auto ops = fixture_ops();
  ASSERT_GT(ops.size(), 20u);
  int moves = 0, searched = 0;
  for (const std::vector<std::string>& acts : {std::vector<std::string>{}, std::vector<std::string>{"f32"}}) {
    const CpuTarget target(builder, cpu, acts);
    ASSERT_EQ(target.generators().size(), kernels::cpu_generators().size());
    for (const graph::Op& op : ops) {
      if (!acts.empty() && op.kind != graph::OpKind::Linear) continue;  // the roundings filter matters for products
      const SearchSpace before = build_space(op, cpu, kernels::cpu_generators(), acts);
      const SearchSpace now = target.space(op, {});
      const std::string what = op.signature() + (acts.empty() ? " (all roundings)" : " (f32)");
      EXPECT_EQ(keys(now), keys(before)) << what;
      expect_same_dims(now, before, what);
      if (now.points.size() < 2) continue;
      ++searched;
      // The evolutionary moves on the same random stream: the same children.
      std::mt19937_64 r1(op.n * 31 + op.k), r2(op.n * 31 + op.k), pick(7);
      for (int i = 0; i < 20; ++i) {
        const Point& a = now.points[pick() % now.points.size()];
        const Point& b = now.points[pick() % now.points.size()];
        EXPECT_EQ(target.mutate(a, now, op, r1).key(), tune::mutate(a, before, op, r2).key()) << what;
        EXPECT_EQ(target.crossover(a, b, op, r1).key(), tune::crossover(a, b, op, r2).key()) << what;
        ++moves;
      }
      // A point's source is its generator's.
      const Point& first = now.points.front();
      EXPECT_EQ(target.emit(op, first).code, kernels::cpu_generator(first.generator).emit(op, first.params).code);
    }
  }
  EXPECT_GT(searched, 10);
  EXPECT_GT(moves, 200);
  // Only the generators named, and an unknown name refused naming the target's generators.
  const CpuTarget target(builder, cpu);
  const graph::Op op = testing::linear_op(1, 1, 64, 128);
  for (const auto& p : target.space(op, {"linear_tiled"}).points) EXPECT_EQ(p.generator, "linear_tiled");
  try {
    target.generator("linear_nonexistent");
    FAIL() << "an unknown generator was found";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear_tiled"), std::string::npos) << e.what();
  }
}

#if SYNAPTIX_HAVE_CUDA
namespace {

namespace kc = kernels::cuda;

// A JSON form of a GEMV point for the test, lossless whatever fields GemvParams has: its name (str()), read
// back through the schedules of the shapes the tests use. (The CUDA target passes its own field-by-field form.)
kc::GemvPointForm test_form() {
  return {[](const kc::GemvParams& p) { return nlohmann::json{{"schedule", p.str()}}; },
          [](const nlohmann::json& j) {
            static const std::map<std::string, kc::GemvParams> known = [] {
              std::map<std::string, kc::GemvParams> m;
              for (const auto& [rows, n, k] : std::vector<std::tuple<int, int64_t, int64_t>>{
                       {4, 1024, 512}, {1, 4096, 4096}, {8, 28672, 4096}, {3, 256, 2048}})
                for (const auto& p : kc::gemv_search_space(rows, n, k)) m[p.str()] = p;
              return m;
            }();
            return known.at(j.at("schedule").get<std::string>());
          }};
}

// The CUDA target's moves before it used the interface (cuda_linear_target.cpp before this change): a
// neighbour is valid when it is one of the space's points; a child when it is one of the op's points.
Point previous_cuda_mutate(const Point& p, const SearchSpace& space, std::mt19937_64& rng) {
  std::set<std::string> valid;
  for (const auto& q : space.points) valid.insert(q.key());
  const std::vector<kernels::ParamDim>* dims = nullptr;
  for (const auto& [g, d] : space.dims)
    if (g == p.generator) dims = &d;
  if (!dims || dims->empty()) return p;
  for (int attempt = 0; attempt < 32; ++attempt) {
    Point q = p;
    const int changes = 1 + static_cast<int>(rng() % 2);
    for (int c = 0; c < changes; ++c) {
      const auto& d = (*dims)[rng() % dims->size()];
      q.params[d.name] = d.values[rng() % d.values.size()];
    }
    if (q.params != p.params && valid.count(q.key())) return q;
  }
  return p;
}

Point previous_cuda_crossover(const Point& a, const Point& b, const std::vector<Point>& all, std::mt19937_64& rng) {
  if (a.generator != b.generator) return a;
  Point c = a;
  for (auto it = b.params.begin(); it != b.params.end(); ++it)
    if (rng() % 2) c.params[it.key()] = it.value();
  for (const auto& q : all)
    if (q.key() == c.key()) return c;
  return a;
}

}  // namespace

TEST(GeneratorInterface, CudaLinearGeneratorsListTheKernelsSpaceAndCublasLtsAlgorithms) {
  const kc::GemvBf16Generator gemv(test_form());
  const kc::BlasLtBf16Generator blaslt({{{64, 512, 256}, 5}});
  const std::vector<const kernels::Generator*> gens{&gemv, &blaslt};
  const graph::Op g = testing::linear_op(4, 4, 1024, 512);
  const SearchSpace s = generators_space(g, gens, {});
  const auto want = kc::gemv_search_space(4, 1024, 512);
  ASSERT_EQ(s.points.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(s.points[i].generator, "cuda_gemv_bf16");
    EXPECT_EQ(test_form().from_json(s.points[i].params).str(), want[i].str()) << i;
  }
  ASSERT_EQ(s.dims.size(), 1u) << "only the GEMV applies at m = 4";
  EXPECT_EQ(gemv.emit(g, s.points[3].params).code, kc::gemv_bf16_source(4, want[3]));
  EXPECT_FALSE(gemv.valid(g, {{"schedule", "w3_ks1_r1_u1"}}));
  EXPECT_FALSE(gemv.valid(g, {{"schedule", want[0].str()}, {"extra", 1}})) << "a point the form would not write";
  // cuBLASLt: as many algorithms as the heuristic offers, one where it was not asked; no source.
  const SearchSpace tc = generators_space(testing::linear_op(64, 64, 512, 256), gens, {});
  ASSERT_EQ(tc.points.size(), 5u);
  EXPECT_EQ(tc.points[4].generator, "cublaslt_bf16");
  EXPECT_EQ(tc.points[4].params["algorithm"], 4);
  EXPECT_EQ(generators_space(testing::linear_op(32, 32, 512, 256), gens, {}).points.size(), 1u);
  EXPECT_TRUE(blaslt.emit(testing::linear_op(64, 64, 512, 256), tc.points[0].params).code.empty());
  // Neither applies to f32 weights or to a bucket of several m.
  EXPECT_TRUE(generators_space(testing::linear_op(4, 4, 1024, 512, DType::F32), gens, {}).points.empty());
  EXPECT_TRUE(generators_space(testing::linear_op(1, 4, 1024, 512), gens, {}).points.empty());
}

TEST(GeneratorInterface, CudaMovesAreThePreviousCudaTargetsMoves) {
  const kc::GemvBf16Generator gemv(test_form());
  const kc::BlasLtBf16Generator blaslt({{{64, 512, 256}, 5}, {{2048, 4096, 4096}, 12}});
  const std::vector<const kernels::Generator*> gens{&gemv, &blaslt};
  for (const graph::Op& op : {testing::linear_op(1, 1, 4096, 4096), testing::linear_op(8, 8, 28672, 4096),
                              testing::linear_op(3, 3, 256, 2048), testing::linear_op(2048, 2048, 4096, 4096)}) {
    const SearchSpace s = generators_space(op, gens, {});
    ASSERT_GT(s.points.size(), 2u) << op.signature();
    const kernels::Generator& gen = s.points[0].generator == "cuda_gemv_bf16" ? static_cast<const kernels::Generator&>(gemv) : blaslt;
    std::mt19937_64 r1(op.n + op.m), r2(op.n + op.m), pick(11);
    std::set<std::string> in_space;
    for (const auto& p : s.points) in_space.insert(p.key());
    int moved = 0;
    for (int i = 0; i < 60; ++i) {
      const Point& a = s.points[pick() % s.points.size()];
      const Point& b = s.points[pick() % s.points.size()];
      const Point m = mutate_point(a, s, op, gen, r1);
      EXPECT_EQ(m.key(), previous_cuda_mutate(a, s, r2).key()) << op.signature();
      EXPECT_TRUE(in_space.count(m.key()));
      moved += m.key() != a.key();
      const Point c = crossover_points(a, b, op, gen, r1);
      EXPECT_EQ(c.key(), previous_cuda_crossover(a, b, s.points, r2).key()) << op.signature();
      EXPECT_TRUE(in_space.count(c.key()));
    }
    EXPECT_GT(moved, 30) << op.signature();
  }
}
#endif

}  // namespace synaptix::tune
