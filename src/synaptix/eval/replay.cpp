#include "synaptix/eval/replay.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/hash.h"
#include "synaptix/eval/replay_sse.h"

namespace synaptix::eval {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string first_model(const std::string& url) {
  httplib::Client cli(url);
  cli.set_connection_timeout(10);
  cli.set_read_timeout(30);
  auto res = cli.Get("/v1/models");
  if (!res) fail("GET ", url, "/v1/models failed: ", httplib::to_string(res.error()));
  if (res->status != 200) fail("GET ", url, "/v1/models returned HTTP ", res->status, ": ", res->body);
  try {
    auto j = nlohmann::json::parse(res->body);
    return j.at("data").at(0).at("id").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    fail("GET ", url, "/v1/models: expected {\"data\": [{\"id\": ...}]}, got ", res->body.substr(0, 200));
  }
}

RequestOutcome run_one(const TraceRecord& r, size_t index, const ReplayOptions& o, const std::string& model,
                       Clock::time_point t0) {
  RequestOutcome out;
  nlohmann::json body = {{"model", model}, {"max_tokens", r.max_tokens}, {"stream", true},
                         {"temperature", 0.0}, {"stream_options", {{"include_usage", true}}}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  if (r.prompt) {
    body["prompt"] = *r.prompt;
  } else {
    body["prompt"] = made_up_prompt(r, index, o);
    out.prompt_tokens = r.prompt_tokens;
  }
  httplib::Client cli(o.url);
  cli.set_connection_timeout(30);
  const auto timeout = static_cast<time_t>(std::max(1.0, o.request_timeout_s));
  cli.set_read_timeout(timeout);
  cli.set_write_timeout(timeout);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.body = body.dump();

  SseParser sse;
  std::string raw;  // kept for error messages
  double last = 0;
  bool done = false;
  int64_t events = 0, usage_tokens = -1;
  std::string stream_error;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (raw.size() < 4096) raw.append(data, std::min<size_t>(n, 4096 - raw.size()));
    const double now = since(t0);
    for (const std::string& payload : sse.feed(data, n)) {
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
      if (j.is_discarded()) {
        stream_error = "unparsable event: " + payload.substr(0, 200);
        continue;
      }
      if (j.contains("error")) {
        stream_error = j["error"].dump();
        continue;
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        const auto& u = j["usage"];
        if (u.contains("completion_tokens")) usage_tokens = u["completion_tokens"].get<int64_t>();
        if (u.contains("prompt_tokens")) out.prompt_tokens = u["prompt_tokens"].get<int64_t>();
      }
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) continue;
      const auto& c = j["choices"][0];
      const bool content = (c.contains("text") && c["text"].is_string()) ||
                           (c.contains("delta") && c["delta"].contains("content"));
      if (!content) continue;
      if (c.contains("text") && c["text"].get<std::string>().empty() && c.contains("finish_reason") &&
          !c["finish_reason"].is_null()) {
        continue;  // a closing event that carries only the finish reason
      }
      if (events == 0) {
        out.ttft_s = now - out.send_s;
      } else {
        out.itl_s.push_back(now - last);
      }
      last = now;
      ++events;
    }
    return true;
  };
  out.send_s = since(t0);
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = cli.send(req, res, err);
  out.e2e_s = since(t0) - out.send_s;
  out.http_status = sent ? res.status : 0;
  if (!sent) {
    out.error = std::string("transport: ") + httplib::to_string(err);
  } else if (res.status != 200) {
    out.error = "HTTP " + std::to_string(res.status) + ": " + raw.substr(0, 300);
  } else if (!stream_error.empty()) {
    out.error = "stream error: " + stream_error;
  } else if (!done) {
    out.error = "stream ended without [DONE]";
  } else if (events == 0) {
    out.error = "no tokens received";
  } else {
    out.ok = true;
    out.output_tokens = usage_tokens >= 0 ? usage_tokens : events;
  }
  return out;
}

}  // namespace

std::vector<int32_t> made_up_prompt(const TraceRecord& r, size_t index, const ReplayOptions& o) {
  if (o.token_id_hi <= o.token_id_lo) fail("replay: token id range [", o.token_id_lo, ", ", o.token_id_hi, ") is empty");
  std::uniform_int_distribution<int32_t> id(o.token_id_lo, o.token_id_hi - 1);
  std::vector<int32_t> t;
  t.reserve(static_cast<size_t>(r.prompt_tokens));
  if (!r.prefix_group.empty()) {
    std::mt19937_64 g(fnv1a64(r.prefix_group.data(), r.prefix_group.size(), o.seed + 1));
    for (int64_t i = 0; i < r.prefix_tokens; ++i) t.push_back(id(g));
  }
  std::mt19937_64 g(o.seed * 1000003u + index);
  while (static_cast<int64_t>(t.size()) < r.prompt_tokens) t.push_back(id(g));
  return t;
}

ReplayReport replay(const std::vector<TraceRecord>& trace_in, const ReplayOptions& o) {
  if (o.url.empty()) fail("replay: --url is required");
  if (o.rate > 0 && o.concurrency > 0) fail("replay: give --rate or --concurrency, not both");
  if (o.rate < 0 || o.concurrency < 0 || o.time_scale < 0) fail("replay: rate, concurrency and time scale must be >= 0");
  std::vector<TraceRecord> trace = trace_in;
  if (o.max_requests > 0 && static_cast<size_t>(o.max_requests) < trace.size()) {
    trace.resize(static_cast<size_t>(o.max_requests));
  }
  if (trace.empty()) fail("replay: the trace is empty");
  const std::string model = o.model.empty() ? first_model(o.url) : o.model;

  std::vector<RequestOutcome> outcomes(trace.size());
  const auto t0 = Clock::now();
  if (o.concurrency > 0) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int64_t w = 0; w < std::min<int64_t>(o.concurrency, static_cast<int64_t>(trace.size())); ++w) {
      workers.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < trace.size();) outcomes[i] = run_one(trace[i], i, o, model, t0);
      });
    }
    for (auto& w : workers) w.join();
  } else {
    // Open loop: each request is sent at its arrival time, whatever is still in flight.
    std::vector<double> at(trace.size());
    std::mt19937_64 rng(o.seed);
    double t = 0;
    for (size_t i = 0; i < trace.size(); ++i) {
      if (o.rate > 0) {
        t += std::exponential_distribution<double>(o.rate)(rng);
        at[i] = t;
      } else {
        at[i] = (trace[i].arrival_s - trace.front().arrival_s) * o.time_scale;
      }
    }
    std::vector<std::thread> inflight;
    for (size_t i = 0; i < trace.size(); ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at[i])));
      inflight.emplace_back([&, i] { outcomes[i] = run_one(trace[i], i, o, model, t0); });
    }
    for (auto& th : inflight) th.join();
  }
  ReplayReport rep = summarize_outcomes(outcomes, since(t0), o);
  rep.url = o.url;
  rep.model = model;
  return rep;
}

ReplayReport summarize_outcomes(const std::vector<RequestOutcome>& outs, double duration_s, const ReplayOptions& o) {
  ReplayReport r;
  r.mode = o.concurrency > 0 ? "concurrency " + std::to_string(o.concurrency)
           : o.rate > 0      ? "poisson rate " + std::to_string(o.rate) + " req/s"
                             : "trace arrival times x" + std::to_string(o.time_scale);
  r.requests = static_cast<int64_t>(outs.size());
  r.duration_s = duration_s;
  r.slo_ttft_ms = o.slo_ttft_ms;
  r.slo_tpot_ms = o.slo_tpot_ms;
  r.slo_e2e_ms = o.slo_e2e_ms;
  std::vector<double> ttft, tpot, itl, e2e;
  std::set<std::string> errs;
  for (const auto& x : outs) {
    if (!x.ok) {
      ++r.failed;
      if (errs.size() < 5 && errs.insert(x.error).second) r.errors.push_back(x.error);
      continue;
    }
    ++r.succeeded;
    r.prompt_tokens += x.prompt_tokens;
    r.output_tokens += x.output_tokens;
    ttft.push_back(1e3 * x.ttft_s);
    e2e.push_back(1e3 * x.e2e_s);
    double tp = 0;
    if (x.output_tokens > 1) {
      tp = 1e3 * (x.e2e_s - x.ttft_s) / static_cast<double>(x.output_tokens - 1);
      tpot.push_back(tp);
    }
    for (double g : x.itl_s) itl.push_back(1e3 * g);
    const bool met = (o.slo_ttft_ms <= 0 || 1e3 * x.ttft_s <= o.slo_ttft_ms) &&
                     (o.slo_tpot_ms <= 0 || tp <= o.slo_tpot_ms) && (o.slo_e2e_ms <= 0 || 1e3 * x.e2e_s <= o.slo_e2e_ms);
    if (met) ++r.slo_met;
  }
  r.ttft_ms = summarize(ttft);
  r.tpot_ms = summarize(tpot);
  r.itl_ms = summarize(itl);
  r.e2e_ms = summarize(e2e);
  if (duration_s > 0) {
    r.request_throughput = static_cast<double>(r.succeeded) / duration_s;
    r.output_token_throughput = static_cast<double>(r.output_tokens) / duration_s;
    r.total_token_throughput = static_cast<double>(r.output_tokens + r.prompt_tokens) / duration_s;
    r.goodput = static_cast<double>(r.slo_met) / duration_s;
  }
  return r;
}

nlohmann::json to_json(const ReplayReport& r) {
  return {{"url", r.url},
          {"model", r.model},
          {"mode", r.mode},
          {"requests", r.requests},
          {"succeeded", r.succeeded},
          {"failed", r.failed},
          {"duration_s", r.duration_s},
          {"prompt_tokens", r.prompt_tokens},
          {"output_tokens", r.output_tokens},
          {"request_throughput", r.request_throughput},
          {"output_token_throughput", r.output_token_throughput},
          {"total_token_throughput", r.total_token_throughput},
          {"ttft_ms", to_json(r.ttft_ms)},
          {"tpot_ms", to_json(r.tpot_ms)},
          {"itl_ms", to_json(r.itl_ms)},
          {"e2e_ms", to_json(r.e2e_ms)},
          {"slo", {{"ttft_ms", r.slo_ttft_ms}, {"tpot_ms", r.slo_tpot_ms}, {"e2e_ms", r.slo_e2e_ms}}},
          {"slo_met", r.slo_met},
          {"goodput", r.goodput},
          {"errors", r.errors}};
}

std::string format_report(const ReplayReport& r) {
  char buf[1024];
  std::string out;
  std::snprintf(buf, sizeof buf, "server %s, model %s, %s\n", r.url.c_str(), r.model.c_str(), r.mode.c_str());
  out += buf;
  std::snprintf(buf, sizeof buf, "requests            %lld ok, %lld failed, in %.2f s\n",
                static_cast<long long>(r.succeeded), static_cast<long long>(r.failed), r.duration_s);
  out += buf;
  std::snprintf(buf, sizeof buf,
                "throughput          %.2f req/s, %.1f output tok/s, %.1f total tok/s (%lld prompt + %lld output tokens)\n",
                r.request_throughput, r.output_token_throughput, r.total_token_throughput,
                static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.output_tokens));
  out += buf;
  out += "latency (ms)            p50        p95        p99       mean\n";
  auto row = [&](const char* name, const LatencySummary& l) {
    std::snprintf(buf, sizeof buf, "  %-16s %10.2f %10.2f %10.2f %10.2f\n", name, l.p50, l.p95, l.p99, l.mean);
    out += buf;
  };
  row("TTFT", r.ttft_ms);
  row("TPOT", r.tpot_ms);
  row("ITL", r.itl_ms);
  row("end-to-end", r.e2e_ms);
  std::string slo;
  if (r.slo_ttft_ms > 0) slo += " TTFT<=" + std::to_string(static_cast<int64_t>(r.slo_ttft_ms)) + "ms";
  if (r.slo_tpot_ms > 0) slo += " TPOT<=" + std::to_string(static_cast<int64_t>(r.slo_tpot_ms)) + "ms";
  if (r.slo_e2e_ms > 0) slo += " E2E<=" + std::to_string(static_cast<int64_t>(r.slo_e2e_ms)) + "ms";
  if (slo.empty()) slo = " (no SLO given: every successful request counts)";
  std::snprintf(buf, sizeof buf, "goodput             %.2f req/s (%lld of %lld requests met the SLO:%s)\n", r.goodput,
                static_cast<long long>(r.slo_met), static_cast<long long>(r.requests), slo.c_str());
  out += buf;
  for (const auto& e : r.errors) out += "  error: " + e + "\n";
  return out;
}

}  // namespace synaptix::eval
