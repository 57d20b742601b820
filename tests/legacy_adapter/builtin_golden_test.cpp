// The built-in profile's answers, pinned byte for byte in golden files
// (tests/legacy_adapter/golden/builtin_*.txt): DESIGN §4's shape has to survive being
// expressed as a profile. Each file is the status, the content type, the headers the
// profile adds and the body. CUTOVER_UPDATE_GOLDEN=1 rewrites them (review the diff).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "legacy_adapter/poll_answers.hpp"
#include "legacy_adapter/poll_protocol.hpp"

namespace cutover::legacy {
namespace {

std::string golden_path(const std::string& name) {
  return std::string(CUTOVER_SOURCE_DIR) + "/tests/legacy_adapter/golden/builtin_" + name + ".txt";
}

std::string show(const rendered_answer& a) {
  std::string out = "status " + std::to_string(a.status) + "\n";
  if (!a.content_type.empty()) out += "content-type: " + std::string(a.content_type) + "\n";
  for (const auto& h : a.headers) out += std::string(h.name) + ": " + h.value + "\n";
  out += "\n" + a.body + "\n";
  return out;
}

void expect_golden(const std::string& name, const rendered_answer& a) {
  std::string got = show(a);
  if (std::getenv("CUTOVER_UPDATE_GOLDEN")) {
    std::ofstream(golden_path(name), std::ios::binary) << got;
    return;
  }
  std::ifstream in(golden_path(name), std::ios::binary);
  ASSERT_TRUE(in) << "missing " << golden_path(name) << "; got:\n" << got;
  std::ostringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str()) << name;
}

notification_ptr n(stream_id id, std::string type, std::string data,
                   std::optional<std::uint64_t> kept = std::nullopt) {
  return std::make_shared<const notification>(id, "user:1", std::move(type), std::move(data), kept);
}

rendered_answer list(const answer_spec& a, const notification_batch& b, std::uint64_t cursor) {
  std::vector<std::string> rendered;
  for (const auto& x : b) rendered.push_back(render_item(builtin_profile(), *x));
  std::vector<std::string_view> views(rendered.begin(), rendered.end());
  return render_list_answer(a, views, cursor);
}

TEST(BuiltinGolden, Data) {
  const auto& p = builtin_profile();
  notification_batch b = {n({1700000000000, 0}, "task.completed", R"({"a":1,"x":1.50})"),
                          n({1700000000000, 1}, "x\"y", R"(["\u00e9",null])")};
  expect_golden("data", list(p.data, b, last_id_for(b, 0, std::nullopt, 0, 0)));
}

TEST(BuiltinGolden, TailIdsShareTheTailValue) {
  const auto& p = builtin_profile();
  notification_batch b = {n({1700000000000, 1022}, "t", "1"), n({1700000000000, 1023}, "t", "2"),
                          n({1700000000000, 1500}, "t", "3")};
  expect_golden("tail", list(p.data, b, last_id_for(b, 0, stream_id{1700000000001, 0}, 0, 0)));
}

TEST(BuiltinGolden, Timeout) {
  expect_golden("timeout", list(builtin_profile().timeout_answer, {}, 1740800000000001));
}

TEST(BuiltinGolden, Reset) {
  notification_batch b = {n({1700000000005, 0}, "notice", R"("oldest kept")")};
  expect_golden("reset", list(builtin_profile().reset, b, b.back()->legacy_id()));
}

TEST(BuiltinGolden, ImportedEntryShowsItsOldIdAndTime) {
  // Old id 9 of the old app, exported at 2023-11-14T22:13:20Z, stored as 0-9 (DESIGN §4).
  notification_batch b = {n({0, 9}, "task.completed", R"({"old":true})", 1700000000000)};
  expect_golden("imported", list(builtin_profile().data, b, 9));
}

TEST(BuiltinGolden, BadCursor) {
  const auto& p = builtin_profile();
  auto why = std::get<std::string>(read_cursor(p, std::string_view("12abc")));
  expect_golden("bad_cursor", render_error_answer(p.bad_cursor, why));
  auto empty = std::get<std::string>(read_cursor(p, std::string_view("")));
  expect_golden("empty_cursor", render_error_answer(p.bad_cursor, empty));
}

TEST(BuiltinGolden, Unauthorized) {
  expect_golden("unauthorized", render_error_answer(builtin_profile().unauthorized,
                                                    "no ?user= (auth mode insecure-query)"));
}

TEST(BuiltinGolden, Unavailable) {
  expect_golden("unavailable",
                render_error_answer(builtin_profile().unavailable,
                                    "too many waiting polls on this instance, retry"));
}

}  // namespace
}  // namespace cutover::legacy
