#include "sio/sid_registry.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace cutover::sio {
namespace {

struct fake_session {
  std::string sid;
};

TEST(SidRegistry, SidsAreTwentyUrlSafeCharactersAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string s = make_sid();
    ASSERT_EQ(s.size(), 20u);
    for (char c : s)
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SidRegistry, FindsOwnSessionsAndRefusesOthers) {
  sid_registry<fake_session> reg(10);
  auto s = reg.create(
      [](const std::string& sid) { return std::make_shared<fake_session>(fake_session{sid}); });
  ASSERT_TRUE(s);
  EXPECT_EQ(reg.find(s->sid), s);
  EXPECT_EQ(reg.find(make_sid()), nullptr);  // made elsewhere: unknown here
  EXPECT_EQ(reg.find(""), nullptr);
  reg.erase(s->sid, s.get());
  EXPECT_EQ(reg.find(s->sid), nullptr);
}

TEST(SidRegistry, EraseOfAnotherSessionWithTheSameSidIsIgnored) {
  sid_registry<fake_session> reg(10);
  auto s = reg.create(
      [](const std::string& sid) { return std::make_shared<fake_session>(fake_session{sid}); });
  fake_session other{s->sid};
  reg.erase(s->sid, &other);
  EXPECT_EQ(reg.find(s->sid), s);
}

TEST(SidRegistry, IsBounded) {
  sid_registry<fake_session> reg(2);
  auto make = [](const std::string& sid) {
    return std::make_shared<fake_session>(fake_session{sid});
  };
  EXPECT_TRUE(reg.create(make));
  EXPECT_TRUE(reg.create(make));
  EXPECT_FALSE(reg.create(make));
  EXPECT_EQ(reg.size(), 2u);
}

TEST(SidRegistry, ThreadsCreateFindAndEraseConcurrently) {
  sid_registry<fake_session> reg(100000);
  auto make = [](const std::string& sid) {
    return std::make_shared<fake_session>(fake_session{sid});
  };
  std::vector<std::thread> ts;
  std::atomic<int> found{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto s = reg.create(make);
        if (reg.find(s->sid) == s) ++found;
        if (i % 2) reg.erase(s->sid, s.get());
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(found.load(), 8000);
  EXPECT_EQ(reg.size(), 4000u);
}

}  // namespace
}  // namespace cutover::sio
