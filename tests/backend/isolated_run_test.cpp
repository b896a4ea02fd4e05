#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "synaptix/backend/isolated_run.h"
#include "synaptix/core/error.h"

namespace synaptix::backend {

TEST(IsolatedRun, ReturnsThePayload) {
  auto r = run_isolated([] { return std::string(100000, 'x') + "end"; }, 10);
  ASSERT_EQ(r.status, RunStatus::Ok) << r.message;
  EXPECT_EQ(r.payload.size(), 100003u);
  EXPECT_EQ(r.payload.substr(100000), "end");
}

TEST(IsolatedRun, ExceptionIsAnError) {
  auto r = run_isolated([]() -> std::string { fail("bad input ", 42); }, 10);
  EXPECT_EQ(r.status, RunStatus::Error);
  EXPECT_EQ(r.message, "bad input 42");
}

TEST(IsolatedRun, AbortIsACrash) {
  auto r = run_isolated([]() -> std::string { std::abort(); }, 10);
  EXPECT_EQ(r.status, RunStatus::Crash);
  EXPECT_FALSE(r.message.empty());
}

TEST(IsolatedRun, SignalIsACrash) {
  auto r = run_isolated([]() -> std::string {
    std::raise(SIGSEGV);
    return "unreachable";
  }, 10);
  EXPECT_EQ(r.status, RunStatus::Crash);
}

TEST(IsolatedRun, HangIsATimeout) {
  auto r = run_isolated([]() -> std::string {
    volatile bool forever = true;
    while (forever) {
    }
    return "";
  }, 0.5);
  EXPECT_EQ(r.status, RunStatus::Timeout);
  EXPECT_LT(r.wall_s, 5.0);
}

}  // namespace synaptix::backend
