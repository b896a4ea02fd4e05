#include "synaptix/serve/http_server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "synaptix/serve/completion_job.h"
#include "synaptix/serve/guarded_server.h"
#include "synaptix/serve/openai_api.h"

namespace synaptix::serve {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Model output can hold invalid UTF-8 (a token that is half a character, shown alone in logprobs); JSON
// text must not, so such bytes become U+FFFD instead of failing the response.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  res.set_content(dump(e.body()), "application/json");
}

json completion_logprobs(const std::vector<TokenOut>& toks, size_t text_offset) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  for (const auto& t : toks) {
    tokens.push_back(t.text);
    lps.push_back(t.logprob);
    tops.push_back(json{{t.text, t.logprob}});  // only the chosen token: alternatives are not computed
    offs.push_back(text_offset);
    text_offset += t.text.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json chat_logprobs(const std::vector<TokenOut>& toks) {
  json content = json::array();
  for (const auto& t : toks) {
    json bytes = json::array();
    for (unsigned char ch : t.text) bytes.push_back(static_cast<int>(ch));
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes}, {"top_logprobs", json::array()}});
  }
  return {{"content", content}};
}

// Per-request state shared by the handler and the content provider (which outlives the handler call).
struct Job {
  std::unique_ptr<CompletionJob> job;
  CompletionParams params;
  std::string id, endpoint;
  int64_t created = 0;
  std::string echo;
  std::atomic<int64_t>* active = nullptr;
  ~Job() {
    job.reset();  // cancels choices still running
    active->fetch_sub(1);
  }
};

json usage_of(const CompletionJob& j) {
  return {{"prompt_tokens", j.prompt_tokens()},
          {"completion_tokens", j.completion_tokens()},
          {"total_tokens", j.prompt_tokens() + j.completion_tokens()},
          {"prompt_tokens_details", {{"cached_tokens", j.cached_prompt_tokens()}}}};
}

json error_event(const std::string& msg) {
  return {{"error", {{"message", msg}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}};
}

}  // namespace

OpenAiServer::OpenAiServer(engine::ServingEngine& engine, const model::Tokenizer& tokenizer,
                           std::optional<model::ChatTemplate> chat_template, ServerOptions opt)
    : engine_(engine), tok_(tokenizer), chat_(std::move(chat_template)), opt_(std::move(opt)),
      started_(std::chrono::system_clock::now()) {
  if (opt_.model_name.empty()) fail("server: the model name is empty");
  if (opt_.http_threads < 2 || opt_.http_threads > kMaxHttpThreads) {
    fail("server: http_threads must be in [2, ", kMaxHttpThreads, "], got ", opt_.http_threads);
  }
  if (opt_.port < 0 || opt_.port > 65535) fail("server: port must be in [0, 65535], got ", opt_.port);
  if (opt_.max_body_bytes < 1) fail("server: max_body_bytes must be positive");
  if (opt_.request_timeout.count() <= 0) fail("server: request_timeout must be positive");
  HttpLimits limits;
  limits.threads = static_cast<size_t>(opt_.http_threads);
  limits.request_timeout = opt_.request_timeout;
  limits.evict_after = opt_.evict_after;
  limits.max_body_bytes = opt_.max_body_bytes;
  http_ = std::make_unique<GuardedServer>(limits);
  routes();
}

OpenAiServer::~OpenAiServer() { stop(); }

void OpenAiServer::routes() {
  http_->set_keep_alive_max_count(100);
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of connections overflows it, and on loopback the
  // overflowed ones look connected to the client but are dropped. Remember the socket to raise the backlog
  // after bind (listen() again on a listening socket only updates its backlog).
  http_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });

  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (engine_.accepting()) {
      res.set_content(R"({"status":"ok"})", "application/json");
    } else {
      res.status = 503;
      res.set_content(R"({"status":"draining"})", "application/json");
    }
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string text = metrics_.render(engine_.snapshot());
    const auto counter = [&text](const char* name, const char* help, uint64_t v) {
      text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
              std::to_string(v) + "\n";
    };
    counter("synaptix_http_connections_refused_total", "Connections answered 503: every handler thread was working.",
            http_->refused());
    counter("synaptix_http_connections_evicted_total",
            "Connections cut while still sending their request, to make room for a new one.", http_->evicted());
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(started_.time_since_epoch()).count();
    json m = {{"id", opt_.model_name}, {"object", "model"}, {"created", created}, {"owned_by", "synaptix"},
              {"max_model_len", engine_.max_sequence_tokens()}};
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });
  for (const bool chat : {false, true}) {
    http_->Post(chat ? "/v1/chat/completions" : "/v1/completions",
                [this, chat](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                  std::string body;
                  if (!read_body(&req, &res, &reader, body)) {
                    metrics_.request_done(chat ? "chat_completions" : "completions", res.status);
                    return;
                  }
                  GuardedServer::request_read();
                  handle_generation(body, chat, &res);
                });
  }
  // Unrouted paths and httplib's own errors (413, 400 on a broken request line) get an OpenAI-style body;
  // bodies a handler already set are left alone.
  http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg = res.status == 404 ? "no route for " + req.method + " " + req.path
                                        : "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    res.set_content(ApiError(res.status, msg).body().dump(), "application/json");
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(ApiError(500, msg, "", "server_error").body().dump(), "application/json");
  });
}

bool OpenAiServer::read_body(const void* request, void* response, const void* content_reader, std::string& body) {
  const auto& req = *static_cast<const httplib::Request*>(request);
  auto& res = *static_cast<httplib::Response*>(response);
  const auto& reader = *static_cast<const httplib::ContentReader*>(content_reader);
  const size_t limit = opt_.max_body_bytes;
  const auto too_large = [&] {
    GuardedServer::close_after_response();  // the rest of the body is not read
    send_error(res, ApiError(413, "the request body is larger than the limit of " + std::to_string(limit) + " bytes"));
    return false;
  };
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    if (v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos || std::stoull(v) > limit) {
      return too_large();
    }
  }
  bool over = false;
  const bool ok = reader([&](const char* data, size_t n) {
    if (body.size() + n > limit) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over || res.status == 413) return too_large();
  if (!ok) {
    GuardedServer::close_after_response();
    send_error(res, ApiError(400, "the request body could not be read (malformed chunked encoding, too slow, or "
                                  "cut short)"));
    return false;
  }
  return true;
}

void OpenAiServer::handle_generation(const std::string& body, bool chat, void* response) {
  auto& res = *static_cast<httplib::Response*>(response);
  const auto arrival = Clock::now();
  const std::string endpoint = chat ? "chat_completions" : "completions";
  auto state = std::make_shared<Job>();
  state->endpoint = endpoint;
  state->created = unix_now();
  state->id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_.fetch_add(1));
  active_jobs_.fetch_add(1);
  state->active = &active_jobs_;
  try {
    if (!engine_.accepting()) throw ApiError(503, "the server is shutting down", "", "service_unavailable");
    const json j = parse_json_body(body, opt_.json);
    state->params = parse_completion_request(j, chat, opt_.model_name);
    CompletionParams& p = state->params;
    std::vector<int32_t> prompt;
    const char* prompt_param = chat ? "messages" : "prompt";
    try {
      if (chat) {
        if (!chat_) throw ApiError(400, "this model has no chat template; use /v1/completions", "messages");
        const std::string text =
            chat_->render(p.messages, true, {{"bos_token", tok_.bos_token()}, {"eos_token", tok_.eos_token()}});
        prompt = tok_.encode(text, false);
      } else if (p.prompt_text) {
        prompt = tok_.encode(*p.prompt_text, true);
        if (p.echo) state->echo = *p.prompt_text;
      } else {
        prompt = p.prompt_ids;
        for (int32_t t : prompt) {
          if (t >= engine_.spec().vocab_size) {
            throw ApiError(400, "prompt token id " + std::to_string(t) + " is outside the vocabulary of " +
                                    std::to_string(engine_.spec().vocab_size), "prompt");
          }
        }
        if (p.echo) state->echo = tok_.decode(prompt, true);
      }
    } catch (const ApiError&) {
      throw;
    } catch (const std::exception& e) {
      // The chat template's raise_exception or its limits, invalid UTF-8, a value the template cannot use:
      // all come from the request.
      throw ApiError(400, e.what(), prompt_param);
    }
    if (prompt.empty()) throw ApiError(400, "the prompt is empty", prompt_param);
    const int64_t max_seq = engine_.max_sequence_tokens();
    const int64_t plen = static_cast<int64_t>(prompt.size());
    if (plen >= max_seq) {
      throw ApiError(400, "This model's maximum context length is " + std::to_string(max_seq) +
                              " tokens, but the prompt has " + std::to_string(plen) + " tokens",
                     prompt_param, "invalid_request_error", "context_length_exceeded");
    }
    if (!p.max_tokens) p.max_tokens = max_seq - plen;
    if (plen + *p.max_tokens > max_seq) {
      throw ApiError(400, "This model's maximum context length is " + std::to_string(max_seq) + " tokens, but " +
                              std::to_string(plen) + " prompt tokens + max_tokens " + std::to_string(*p.max_tokens) +
                              " exceed it", chat ? "max_tokens" : "max_tokens", "invalid_request_error",
                     "context_length_exceeded");
    }
    try {
      state->job = std::make_unique<CompletionJob>(engine_, tok_, p, std::move(prompt), metrics_, arrival);
    } catch (const engine::Overloaded& e) {
      throw ApiError(429, e.what(), "", "rate_limit_exceeded");
    } catch (const engine::ShuttingDown& e) {
      throw ApiError(503, e.what(), "", "service_unavailable");
    } catch (const Error& e) {
      throw ApiError(400, e.what());
    }
  } catch (const ApiError& e) {
    send_error(res, e);
    metrics_.request_done(endpoint, e.status());
    return;
  }

  const auto heartbeat = opt_.heartbeat;
  ServerMetrics* metrics = &metrics_;
  const std::string model = opt_.model_name;
  if (state->params.stream) {
    res.set_chunked_content_provider("text/event-stream", [state, heartbeat, metrics, model](size_t, httplib::DataSink& sink) {
      const bool chat_mode = state->params.chat;
      auto send = [&](const json& j) {
        const std::string s = "data: " + dump(j) + "\n\n";
        return sink.write(s.data(), s.size());
      };
      auto chunk = [&](json choice) {
        return json{{"id", state->id}, {"object", chat_mode ? "chat.completion.chunk" : "text_completion"},
                    {"created", state->created}, {"model", model}, {"choices", json::array({std::move(choice)})}};
      };
      bool ok = true;
      try {
        if (chat_mode) {
          for (int i = 0; i < state->params.n && ok; ++i) {
            ok = send(chunk({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                             {"finish_reason", nullptr}}));
          }
        }
        std::vector<size_t> offsets(static_cast<size_t>(state->params.n), 0);
        ok = ok && state->job->run(
            [&](const ChoiceEvent& ev) {
              json c = {{"index", ev.index}};
              const bool has_token = !ev.tokens.empty();
              if (chat_mode) {
                c["delta"] = has_token || !ev.text.empty() ? json{{"content", ev.text}} : json::object();
                c["logprobs"] = state->params.logprobs && has_token ? chat_logprobs(ev.tokens) : json(nullptr);
              } else {
                c["text"] = ev.text;
                c["logprobs"] = state->params.logprobs && has_token
                                    ? completion_logprobs(ev.tokens, offsets[static_cast<size_t>(ev.index)])
                                    : json(nullptr);
              }
              offsets[static_cast<size_t>(ev.index)] += ev.text.size();
              c["finish_reason"] = ev.finish_reason.empty() ? json(nullptr) : json(ev.finish_reason);
              return send(chunk(std::move(c)));
            },
            [&] {
              static const char kKeepAlive[] = ": keep-alive\n\n";
              return sink.write(kKeepAlive, sizeof kKeepAlive - 1);
            },
            heartbeat, [] { return GuardedServer::peer_alive(); });
        if (ok && state->params.include_usage) {
          ok = send({{"id", state->id}, {"object", chat_mode ? "chat.completion.chunk" : "text_completion"},
                     {"created", state->created}, {"model", model}, {"choices", json::array()},
                     {"usage", usage_of(*state->job)}});
        }
      } catch (const std::exception& e) {
        ok = send(error_event(e.what()));
      }
      if (ok) {
        static const char kDone[] = "data: [DONE]\n\n";
        ok = sink.write(kDone, sizeof kDone - 1);
      }
      metrics->request_done(state->endpoint, ok ? 200 : 499);  // 499: the client closed the connection
      if (ok) sink.done();
      return ok;
    });
    return;
  }

  // Non-streaming: the JSON body is written once at the end. While waiting, a single space (JSON allows
  // leading whitespace) is written every heartbeat so a client that went away is noticed and cancelled.
  res.set_chunked_content_provider("application/json", [state, heartbeat, metrics, model](size_t, httplib::DataSink& sink) {
    const bool chat_mode = state->params.chat;
    const size_t n = static_cast<size_t>(state->params.n);
    std::vector<std::string> text(n);
    std::vector<std::vector<TokenOut>> tokens(n);
    std::vector<std::string> reasons(n);
    bool ok = false;
    std::string out;
    try {
      ok = state->job->run(
          [&](const ChoiceEvent& ev) {
            const size_t i = static_cast<size_t>(ev.index);
            text[i] += ev.text;
            if (state->params.logprobs) tokens[i].insert(tokens[i].end(), ev.tokens.begin(), ev.tokens.end());
            if (!ev.finish_reason.empty()) reasons[i] = ev.finish_reason;
            return true;
          },
          [&] { return sink.write(" ", 1); }, heartbeat, [] { return GuardedServer::peer_alive(); });
      json choices = json::array();
      for (size_t i = 0; i < n; ++i) {
        json c = {{"index", i}, {"finish_reason", reasons[i]}};
        if (chat_mode) {
          c["message"] = {{"role", "assistant"}, {"content", text[i]}};
          c["logprobs"] = state->params.logprobs ? chat_logprobs(tokens[i]) : json(nullptr);
        } else {
          c["text"] = state->echo + text[i];
          c["logprobs"] = state->params.logprobs ? completion_logprobs(tokens[i], state->echo.size()) : json(nullptr);
        }
        choices.push_back(std::move(c));
      }
      out = dump(json{{"id", state->id}, {"object", chat_mode ? "chat.completion" : "text_completion"},
                 {"created", state->created}, {"model", model}, {"choices", choices},
                 {"usage", usage_of(*state->job)}});
    } catch (const std::exception& e) {
      out = dump(error_event(e.what()));
      ok = true;  // the connection is fine; the error goes in the body
    }
    if (ok) ok = sink.write(out.data(), out.size());
    metrics->request_done(state->endpoint, ok ? 200 : 499);
    if (ok) sink.done();
    return ok;
  });
}

int OpenAiServer::bind() {
  // A client that disconnects must surface as a failed write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (opt_.port == 0) {
    port_ = http_->bind_to_any_port(opt_.host);
    if (port_ <= 0) fail("server: cannot bind to ", opt_.host, " (any port)");
  } else {
    if (!http_->bind_to_port(opt_.host, opt_.port)) fail("server: cannot bind to ", opt_.host, ":", opt_.port);
    port_ = opt_.port;
  }
  if (listen_fd_ >= 0 && ::listen(listen_fd_, SOMAXCONN) != 0) {
    fail("server: cannot raise the listen backlog on ", opt_.host, ":", port_);
  }
  return port_;
}

void OpenAiServer::serve() {
  if (port_ == 0) fail("server: serve() before bind()");
  http_->listen_after_bind();
}

void OpenAiServer::stop() {
  if (http_) http_->stop();
}

void OpenAiServer::drain_and_stop(std::chrono::seconds timeout) {
  engine_.stop_accepting();
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && (active_jobs_.load() > 0 || engine_.in_flight() > 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
}

}  // namespace synaptix::serve
