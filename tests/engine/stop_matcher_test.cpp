#include "synaptix/engine/stop_matcher.h"

#include <gtest/gtest.h>

using synaptix::engine::StopMatcher;

TEST(StopMatcher, HoldsBackPartialStopAndCutsAtIt) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("hello E"), "hello ");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("N"), "");
  EXPECT_EQ(m.push("D and more"), "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, ReleasesFalseStartsAndFlushes) {
  StopMatcher m({"END", "\n\n"});
  EXPECT_EQ(m.push("EN"), "");
  EXPECT_EQ(m.push("X"), "ENX");
  EXPECT_EQ(m.push("tail\n"), "tail");
  EXPECT_EQ(m.flush(), "\n");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopInsideOneChunk) {
  StopMatcher m({"stop"});
  EXPECT_EQ(m.push("abc stop def"), "abc ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.flush(), "");
}
