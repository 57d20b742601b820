// Reading the old app's export (legacy_adapter/export_rows.*): NDJSON rows, CSV records
// and their quoting, the three time formats, where old ids are stored and when an
// id_offset is needed.

#include "legacy_adapter/export_rows.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace cutover::legacy {
namespace {

profile with_time(time_format f) {
  profile p = builtin_profile();
  p.import.time = f;
  return p;
}

TEST(ExportRows, NdjsonRow) {
  auto p = with_time(time_format::epoch_ms);
  auto r = parse_ndjson_row(
      R"({"id":"12","user":7,"type":"t","time":1700000000123,"payload": {"a" : 1.50},"extra":1})",
      p, {});
  auto& row = std::get<export_row>(r);
  EXPECT_EQ(row.legacy_id, 12u);
  EXPECT_EQ(row.topic, "user:7");
  EXPECT_EQ(row.data, R"({"a":1.50})");
  EXPECT_EQ(row.time_ms, 1700000000123u);
  auto topic = std::get<export_row>(
      parse_ndjson_row(R"({"id":1,"user":"9","topic":"all","time":5,"payload":null})", p, {}));
  EXPECT_EQ(topic.topic, "all") << "a topic wins over a user";
  EXPECT_EQ(topic.type, "");
  EXPECT_EQ(std::get<std::string>(parse_ndjson_row("[1]", p, {})), "not a JSON object");
  EXPECT_EQ(std::get<std::string>(
                parse_ndjson_row(R"({"id":1.5,"user":"1","time":1,"payload":1})", p, {})),
            "id: expected the old app's id, a whole number");
  EXPECT_EQ(std::get<std::string>(
                parse_ndjson_row(R"({"id":1,"user":"1","time":1.5,"payload":1})", p, {})),
            "time: expected milliseconds since 1970 (a whole number)");
  EXPECT_EQ(
      std::get<std::string>(parse_ndjson_row(R"({"id":1,"user":[],"time":1,"payload":1})", p, {})),
      "user: expected a string or a whole number");
  entry_limits small;
  small.max_payload = 4;
  EXPECT_NE(std::get<std::string>(
                parse_ndjson_row(R"({"id":1,"user":"1","time":1,"payload":"long"})", p, small))
                .find("over --max-payload"),
            std::string::npos);
}

TEST(ExportRows, Times) {
  EXPECT_EQ(parse_export_time("2023-11-14T22:13:20Z", time_format::iso8601), 1700000000000u);
  EXPECT_EQ(parse_export_time("2023-11-14 22:13:20", time_format::iso8601), 1700000000000u);
  EXPECT_EQ(parse_export_time("2023-11-14T22:13:20.1234Z", time_format::iso8601), 1700000000123u);
  EXPECT_EQ(parse_export_time("2023-11-15T00:13:20+02:00", time_format::iso8601), 1700000000000u);
  EXPECT_EQ(parse_export_time("2023-11-14T17:13:20-0500", time_format::iso8601), 1700000000000u);
  EXPECT_EQ(parse_export_time("1970-01-01T00:00:00Z", time_format::iso8601), 0u);
  for (auto bad : {"2023-11-14", "2023-13-01T00:00:00Z", "1969-12-31T23:59:59Z",
                   "2023-11-14T22:13:20ZZ", "2023-11-14T22:13:20.Z", "1700000000"})
    EXPECT_FALSE(parse_export_time(bad, time_format::iso8601)) << bad;
  EXPECT_EQ(parse_export_time("1700000000", time_format::epoch_s), 1700000000000u);
  EXPECT_EQ(parse_export_time("1700000000.25", time_format::epoch_s), 1700000000250u);
  EXPECT_EQ(parse_export_time("1700000000123", time_format::epoch_ms), 1700000000123u);
  EXPECT_FALSE(parse_export_time("1.5", time_format::epoch_ms));
  EXPECT_FALSE(parse_export_time("-1", time_format::epoch_s));
  EXPECT_FALSE(parse_export_time("99999999999999", time_format::epoch_s)) << "past 2248";
}

TEST(ExportRows, CsvRecordsAndQuoting) {
  std::istringstream in(
      "id,user,type,time,payload\r\n"
      "1,42,t,5,\"{\"\"a\"\":\"\"x,y\"\"}\"\n"
      "\n"
      "2,42,t,5,\"\"\"multi\n"
      "line\"\"\"\n"
      "3,42,t,5,7");
  csv_reader r(in);
  std::vector<std::string> f;
  std::size_t line = 0;
  std::string why;
  ASSERT_EQ(r.next(f, line, why), csv_reader::outcome::record);
  EXPECT_EQ(line, 1u);
  auto cols = std::get<csv_columns>(csv_header(f));
  ASSERT_EQ(r.next(f, line, why), csv_reader::outcome::record);
  EXPECT_EQ(line, 2u);
  EXPECT_EQ(f.back(), R"({"a":"x,y"})");
  auto row = std::get<export_row>(parse_csv_row(f, cols, with_time(time_format::epoch_s), {}));
  EXPECT_EQ(row.topic, "user:42");
  EXPECT_EQ(row.time_ms, 5000u);
  ASSERT_EQ(r.next(f, line, why), csv_reader::outcome::record);
  EXPECT_EQ(line, 4u) << "the blank line is skipped, the record starts on line 4";
  EXPECT_EQ(f.back(), "\"multi\nline\"");
  ASSERT_EQ(r.next(f, line, why), csv_reader::outcome::record);
  EXPECT_EQ(line, 6u);
  EXPECT_EQ(f, (std::vector<std::string>{"3", "42", "t", "5", "7"}));
  EXPECT_EQ(r.next(f, line, why), csv_reader::outcome::end);

  for (auto broken : {"a,\"b", "a,b\"c\n", "\"a\"b\n"}) {
    std::istringstream bad(broken);
    csv_reader br(bad);
    EXPECT_EQ(br.next(f, line, why), csv_reader::outcome::broken) << broken;
  }
  EXPECT_EQ(std::get<std::string>(csv_header({"id", "time", "payload"})),
            "the header has neither 'user' nor 'topic'");
  EXPECT_EQ(std::get<std::string>(csv_header({"id", "id", "user", "time", "payload"})),
            "column 'id' is named twice");
  EXPECT_NE(std::get<std::string>(parse_csv_row({"1"}, cols, builtin_profile(), {})).find("fields"),
            std::string::npos);
}

TEST(ExportRows, StoredIdAndOffsets) {
  EXPECT_EQ(stored_id(1, 0), (stream_id{0, 1}));
  EXPECT_EQ(stored_id(1025, 0), (stream_id{1, 1}));
  EXPECT_EQ(stored_id(1025, 1000), (stream_id{0, 25}));
  EXPECT_EQ(stored_id(1025, 0).legacy_id(), 1025u);
  const stream_id floor = kNewIdsFloor;
  EXPECT_TRUE(check_offset(1, 5'000'000, 0, floor).ok);
  auto too_big = check_offset(1740800000000000, 1740800000000005, 0, floor);
  EXPECT_FALSE(too_big.ok);
  ASSERT_TRUE(too_big.suggest);
  EXPECT_TRUE(check_offset(1740800000000000, 1740800000000005, *too_big.suggest, floor).ok);
  EXPECT_FALSE(check_offset(1740800000000000, 1740800000000005, *too_big.suggest - 1, floor).ok);
  auto at_offset = check_offset(10, 20, 10, floor);
  EXPECT_FALSE(at_offset.ok);
  EXPECT_EQ(at_offset.suggest, 0u);
  // Below what is already ingested from Redis.
  EXPECT_FALSE(check_offset(1, 3072, 0, stream_id{3, 0}).ok);
  EXPECT_TRUE(check_offset(1, 3071, 0, stream_id{3, 0}).ok);
  auto wide = check_offset(1, UINT64_MAX / 2, 0, floor);
  EXPECT_FALSE(wide.suggest);
  EXPECT_NE(wide.why.find("no id_offset fits"), std::string::npos);
}

}  // namespace
}  // namespace cutover::legacy
