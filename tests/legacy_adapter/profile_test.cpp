// The legacy profile reader (legacy_adapter/profile.*): one test per field of
// docs/legacy-profiles.md, each checking that a good value lands where it should and a
// bad one is refused naming its line and field; plus the reader's own rules (syntax
// errors, unknown and repeated keys) and the built-in profile.

#include "legacy_adapter/profile.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "legacy_adapter/poll_answers.hpp"

namespace cutover::legacy {
namespace {
namespace json = boost::json;

// The smallest profile the reader accepts.
json::object minimal() {
  return json::parse(R"({
    "profile": 1,
    "request": {"path": "/poll", "cursor": {"name": "after"}},
    "item": {"id": "$id"},
    "answers": {
      "data": {"status": 200, "body": {"list": "$items"}},
      "timeout": {"status": 204},
      "reset": {"status": 200, "body": {"list": "$items", "reset": true}}
    }
  })")
      .as_object();
}

// Sets `path` (dot-separated keys) in `o` to the JSON `value`.
json::object with(json::object o, std::string_view path, std::string_view value) {
  json::object* at = &o;
  while (true) {
    auto dot = path.find('.');
    std::string key(path.substr(0, dot));
    if (dot == std::string_view::npos) {
      (*at)[key] = json::parse(value);
      return o;
    }
    if (!at->contains(key)) (*at)[key] = json::object();
    at = &(*at)[key].as_object();
    path.remove_prefix(dot + 1);
  }
}

json::object without(json::object o, std::string_view path) {
  json::object* at = &o;
  while (true) {
    auto dot = path.find('.');
    std::string key(path.substr(0, dot));
    if (dot == std::string_view::npos) {
      at->erase(key);
      return o;
    }
    at = &(*at)[key].as_object();
    path.remove_prefix(dot + 1);
  }
}

profile accept(const json::object& o) {
  auto r = parse_profile(json::serialize(o), "p.json");
  if (auto* e = std::get_if<profile_error>(&r)) {
    ADD_FAILURE() << e->text();
    return builtin_profile();
  }
  return std::get<profile>(std::move(r));
}

profile_error refuse(const json::object& o) {
  auto r = parse_profile(json::serialize(o), "p.json");
  if (auto* e = std::get_if<profile_error>(&r)) return *e;
  ADD_FAILURE() << "accepted: " << json::serialize(o);
  return {};
}

// Asserts the profile is refused for `field`, with `words` in the message.
void refused_for(const json::object& o, const std::string& field, const std::string& words) {
  auto e = refuse(o);
  EXPECT_EQ(e.field, field) << e.text();
  EXPECT_NE(e.message.find(words), std::string::npos) << e.text();
  EXPECT_EQ(e.file, "p.json");
  EXPECT_EQ(e.line, 1) << "serialised on one line";
}

notification_ptr note(std::uint64_t ms, std::uint64_t seq, std::string data = R"({"a":1})",
                      std::string type = "task.done") {
  return std::make_shared<const notification>(stream_id{ms, seq}, "user:7", std::move(type),
                                              std::move(data));
}

std::string item_of(const profile& p, const notification_ptr& n) {
  return render_item(p, *n);
}

TEST(Profile, MinimalDefaults) {
  auto p = accept(minimal());
  EXPECT_EQ(p.method, "GET");
  EXPECT_EQ(p.path, "/poll");
  EXPECT_EQ(p.cursor.name, "after");
  EXPECT_EQ(p.cursor.place, cursor_place::query);
  EXPECT_EQ(p.cursor.style.form, id_form::integer);
  EXPECT_FALSE(p.cursor.stream_ids);
  EXPECT_EQ(p.cursor.missing, missing_cursor::newest);
  EXPECT_EQ(p.batch, 100u);
  EXPECT_EQ(p.timeout, std::chrono::seconds(30));
  EXPECT_EQ(p.id_offset, 0u);
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_EQ(p.identity.user_field, std::vector<std::string>{"userId"});
  EXPECT_EQ(p.identity.session_cookie, "");
  EXPECT_EQ(p.import.time, time_format::iso8601);
  EXPECT_EQ(p.source, "p.json");
}

TEST(ProfileField, Version) {
  refused_for(with(minimal(), "profile", "2"), "profile", "format 1");
  refused_for(with(minimal(), "profile", R"("1")"), "profile", "expected a number");
  refused_for(without(minimal(), "profile"), "profile", "missing");
}

TEST(ProfileField, NameAndDescription) {
  auto p = accept(with(with(minimal(), "name", R"("inbox")"), "description", R"("the old app")"));
  EXPECT_EQ(p.name, "inbox");
  refused_for(with(minimal(), "name", "3"), "name", "expected a string");
  refused_for(with(minimal(), "description", "[]"), "description", "expected a string");
}

TEST(ProfileField, RequestMethod) {
  EXPECT_EQ(accept(with(minimal(), "request.method", R"("POST")")).method, "POST");
  refused_for(with(minimal(), "request.method", R"("PATCH")"), "request.method", "GET, POST");
}

TEST(ProfileField, RequestPath) {
  EXPECT_EQ(accept(with(minimal(), "request.path", R"("/rest/inbox/updates")")).path,
            "/rest/inbox/updates");
  refused_for(with(minimal(), "request.path", R"("poll")"), "request.path", "starting with '/'");
  refused_for(with(minimal(), "request.path", R"("/poll?x=1")"), "request.path", "'?'");
  refused_for(with(minimal(), "request.path", R"("/v1/ws")"), "request.path", "itself");
  refused_for(without(minimal(), "request.path"), "request.path", "missing");
}

TEST(ProfileField, CursorName) {
  refused_for(with(minimal(), "request.cursor.name", R"("")"), "request.cursor.name", "empty");
  refused_for(with(minimal(), "request.cursor.name", R"("a&b")"), "request.cursor.name", "'&'");
  refused_for(without(minimal(), "request.cursor.name"), "request.cursor.name", "missing");
}

TEST(ProfileField, CursorPlace) {
  auto o = with(with(minimal(), "request.cursor.in", R"("header")"), "request.cursor.name",
                R"("X-After")");
  auto p = accept(o);
  EXPECT_EQ(p.cursor.place, cursor_place::header);
  refused_for(with(o, "request.cursor.name", R"("X After")"), "request.cursor.name", "token");
  refused_for(with(minimal(), "request.cursor.in", R"("body")"), "request.cursor.in",
              "query, header");
}

TEST(ProfileField, CursorFormAndPrefix) {
  auto o = with(with(minimal(), "request.cursor.form", R"("string")"), "request.cursor.prefix",
                R"("evt_")");
  auto p = accept(o);
  EXPECT_EQ(p.cursor.style.form, id_form::string);
  EXPECT_EQ(p.cursor.style.prefix, "evt_");
  // The id is a string in items and in the cursor; the prefix is the old app's.
  EXPECT_EQ(item_of(p, note(1, 5)), R"({"id":"evt_1029"})");
  auto c = std::get<poll_cursor>(read_cursor(p, std::string_view("evt_1029")));
  EXPECT_EQ(c.wire, 1029u);
  EXPECT_EQ(c.since->after, (stream_id{1, 5}));
  auto bad = std::get<std::string>(read_cursor(p, std::string_view("1029")));
  EXPECT_EQ(bad,
            "after: malformed cursor '1029': expected 'evt_' followed by a non-negative integer");
  refused_for(with(minimal(), "request.cursor.form", R"("uuid")"), "request.cursor.form",
              "integer, string");
  refused_for(with(minimal(), "request.cursor.prefix", R"("x")"), "request.cursor.prefix",
              "needs \"form\": \"string\"");
  refused_for(with(o, "request.cursor.prefix", R"("a b")"), "request.cursor.prefix", "letters");
}

TEST(ProfileField, CursorIntegerForm) {
  auto p = accept(minimal());
  EXPECT_EQ(item_of(p, note(1, 5)), R"({"id":1029})");
  auto c = std::get<poll_cursor>(read_cursor(p, std::string_view("1029")));
  EXPECT_EQ(c.since->after, (stream_id{1, 5}));
  EXPECT_EQ(std::get<poll_cursor>(read_cursor(p, std::string_view("0"))).since->from_oldest(),
            true);
  EXPECT_FALSE(std::get<poll_cursor>(read_cursor(p, std::nullopt)).since);
  for (std::string_view bad : {"", "-1", "1-2", "x", "1.5", "99999999999999999999999"})
    EXPECT_TRUE(std::holds_alternative<std::string>(read_cursor(p, bad))) << bad;
  EXPECT_EQ(std::get<std::string>(read_cursor(p, std::string_view("\xff"))),
            "after: malformed cursor (not UTF-8)");
}

TEST(ProfileField, CursorStreamIds) {
  auto p = accept(with(minimal(), "request.cursor.stream_ids", "true"));
  auto c = std::get<poll_cursor>(read_cursor(p, std::string_view("1700000000000-3")));
  EXPECT_EQ(c.since->after, (stream_id{1700000000000, 3}));
  EXPECT_EQ(c.wire, 1700000000000ull * 1024 + 3);
  // Cutover's own messages, word for word (DESIGN §2).
  EXPECT_EQ(std::get<std::string>(read_cursor(p, std::string_view("12abc"))),
            "after: malformed cursor '12abc': expected a stream id like 1700000000000-0, a "
            "legacyId (a non-negative integer), or 0");
  EXPECT_TRUE(std::holds_alternative<std::string>(
      read_cursor(accept(minimal()), std::string_view("1700000000000-3"))));
  refused_for(with(minimal(), "request.cursor.stream_ids", R"("yes")"), "request.cursor.stream_ids",
              "boolean");
  refused_for(with(with(minimal(), "request.cursor.form", R"("string")"),
                   "request.cursor.stream_ids", "true"),
              "request.cursor.stream_ids", "integer");
}

TEST(ProfileField, CursorMissing) {
  EXPECT_EQ(accept(with(minimal(), "request.cursor.missing", R"("oldest")")).cursor.missing,
            missing_cursor::oldest);
  EXPECT_EQ(accept(with(minimal(), "request.cursor.missing", R"("error")")).cursor.missing,
            missing_cursor::refuse);
  refused_for(with(minimal(), "request.cursor.missing", R"("zero")"), "request.cursor.missing",
              "newest, oldest, error");
}

TEST(ProfileField, Batch) {
  EXPECT_EQ(accept(with(minimal(), "batch", "25")).batch, 25u);
  refused_for(with(minimal(), "batch", "0"), "batch", "at least 1");
  refused_for(with(minimal(), "batch", "10001"), "batch", "from 0 to 10000");
  refused_for(with(minimal(), "batch", "2.5"), "batch", "whole number");
}

TEST(ProfileField, Timeout) {
  EXPECT_EQ(accept(with(minimal(), "timeout", R"("500ms")")).timeout,
            std::chrono::milliseconds(500));
  EXPECT_EQ(accept(with(minimal(), "timeout", R"("2m")")).timeout, std::chrono::minutes(2));
  refused_for(with(minimal(), "timeout", R"("2h")"), "timeout", "1ms to 1h");
  refused_for(with(minimal(), "timeout", "30"), "timeout", "expected a string");
}

TEST(ProfileField, IdOffset) {
  auto p = accept(with(minimal(), "id_offset", "1000000"));
  EXPECT_EQ(p.id_offset, 1000000u);
  // On the wire every stored legacy id is shifted up; cursors are shifted back.
  EXPECT_EQ(item_of(p, note(1, 5)), R"({"id":1001029})");
  auto c = std::get<poll_cursor>(read_cursor(p, std::string_view("1001029")));
  EXPECT_EQ(c.since->after, (stream_id{1, 5}));
  EXPECT_EQ(c.wire, 1001029u);
  // At or below the offset is before everything.
  EXPECT_TRUE(std::get<poll_cursor>(read_cursor(p, std::string_view("999"))).since->from_oldest());
  EXPECT_EQ(to_wire(p, 0), 0u);
  refused_for(with(minimal(), "id_offset", "9007199254740992"), "id_offset", "9007199254740991");
  refused_for(with(minimal(), "id_offset", "-1"), "id_offset", "whole number");
}

TEST(ProfileField, ContentType) {
  auto p = accept(with(minimal(), "content_type", R"("application/json; charset=utf-8")"));
  EXPECT_EQ(p.data.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(p.bad_cursor.content_type, "application/json; charset=utf-8");
  refused_for(with(minimal(), "content_type", R"("")"), "content_type", "media type");
  auto own = accept(with(minimal(), "answers.data.content_type", R"("text/plain")"));
  EXPECT_EQ(own.data.content_type, "text/plain");
  EXPECT_EQ(own.reset.content_type, "application/json");
}

TEST(ProfileField, ItemIdTypeTopic) {
  auto p = accept(with(minimal(), "item", R"({"id":"$id","kind":"$type","to":"$topic"})"));
  EXPECT_EQ(item_of(p, note(1, 5, "1", "a\"b")), R"({"id":1029,"kind":"a\"b","to":"user:7"})");
  refused_for(with(minimal(), "item", R"({"x":"$cursor"})"), "item.x", "unknown placeholder");
  refused_for(with(minimal(), "item", R"({"x":"$nope"})"), "item.x", "$id, $type");
  refused_for(without(minimal(), "item"), "item", "missing");
  refused_for(with(minimal(), "item", "[]"), "item", "expected an object");
}

TEST(ProfileField, ItemTimeFormats) {
  auto p = accept(
      with(minimal(), "item", R"({"a":"$time.iso8601","b":"$time.epoch_ms","c":"$time.epoch_s"})"));
  EXPECT_EQ(item_of(p, note(1700000000123, 0)),
            R"({"a":"2023-11-14T22:13:20.123Z","b":1700000000123,"c":1700000000})");
  // An imported entry shows the time the old app exported, not its id's.
  auto imported = std::make_shared<const notification>(stream_id{0, 9}, "user:7", "t", "1",
                                                       std::optional<std::uint64_t>(86400000));
  EXPECT_EQ(item_of(p, imported), R"({"a":"1970-01-02T00:00:00.000Z","b":86400000,"c":86400})");
  refused_for(with(minimal(), "item", R"({"a":"$time.rfc2822"})"), "item.a", "unknown placeholder");
}

TEST(ProfileField, ItemPayloadNested) {
  auto p = accept(with(minimal(), "item", R"({"id":"$id","data":{"body":"$payload"}})"));
  EXPECT_EQ(item_of(p, note(1, 0, R"({"x":1.50,"s":"\u00e9"})")),
            R"({"id":1024,"data":{"body":{"x":1.50,"s":"\u00e9"}}})");
  refused_for(with(minimal(), "item", R"({"a":"x${payload}"})"), "item.a", "JSON value");
}

TEST(ProfileField, ItemPayloadMerged) {
  auto p = accept(with(minimal(), "item", R"({"id":"$id","$payload_fields":"value","k":"c"})"));
  EXPECT_EQ(item_of(p, note(1, 0, R"({"x":1,"id":99,"y":[2]})")),
            R"({"id":1024,"x":1,"y":[2],"k":"c"})")
      << "the item's own keys win";
  EXPECT_EQ(item_of(p, note(1, 0, R"("text")")), R"({"id":1024,"value":"text","k":"c"})");
  EXPECT_EQ(item_of(p, note(1, 0, "{}")), R"({"id":1024,"k":"c"})");
  auto first = accept(with(minimal(), "item", R"({"$payload_fields":"v","id":"$id"})"));
  EXPECT_EQ(item_of(first, note(1, 0, "{}")), R"({"id":1024})");
  EXPECT_EQ(item_of(first, note(1, 0, R"({"a":1,"b":2})")), R"({"a":1,"b":2,"id":1024})");
  auto alone = accept(with(minimal(), "item", R"({"$payload_fields":"v"})"));
  EXPECT_EQ(item_of(alone, note(1, 0, R"({"a":1,"b":2})")), R"({"a":1,"b":2})");
  EXPECT_EQ(item_of(alone, note(1, 0, "[]")), R"({"v":[]})");
  refused_for(with(minimal(), "item", R"({"$payload_fields":3})"), "item.$payload_fields",
              "expected the key");
  refused_for(with(minimal(), "item", R"({"id":"$id","$payload_fields":"id"})"),
              "item.$payload_fields", "already a key");
  refused_for(with(minimal(), "answers.data.body", R"({"l":"$items","$payload_fields":"v"})"),
              "answers.data.body.$payload_fields", "only in \"item\"");
}

TEST(ProfileField, ItemConstants) {
  // Written as text: the constants must come out in the file's own spelling (1.50 stays
  // 1.50), which a round trip through a JSON library would not keep.
  std::string text = json::serialize(with(minimal(), "item", R"("ITEM")"));
  text.replace(text.find(R"("ITEM")"), 6,
               R"({"src":"legacy","v":2,"f":1.50,"n":null,"ok":true,"t":[1,"a"],)"
               R"("price":"$$5","$$ref":"x","msg":"id ${id} of ${type}"})");
  auto p = std::get<profile>(parse_profile(text, "p.json"));
  EXPECT_EQ(item_of(p, note(1, 0, "1", "a\"b")),
            R"({"src":"legacy","v":2,"f":1.50,"n":null,"ok":true,"t":[1,"a"],"price":"$5",)"
            R"("$ref":"x","msg":"id 1024 of a\"b"})");
  refused_for(with(minimal(), "item", R"({"price":"5$"})"), "item.price", "a '$' in a string");
  refused_for(with(minimal(), "item", R"({"$ref":"x"})"), "item.$ref", "may not start with '$'");
}

TEST(ProfileField, AnswersData) {
  auto p = accept(with(minimal(), "answers.data",
                       R"({"status":200,"headers":{"X-Next":"${cursor}"},)"
                       R"("body":{"ok":true,"events":"$items","next":"$cursor"}})"));
  std::vector<std::string_view> items = {"{\"id\":1}", "{\"id\":2}"};
  auto a = render_list_answer(p.data, items, 2);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, R"({"ok":true,"events":[{"id":1},{"id":2}],"next":2})");
  ASSERT_EQ(a.headers.size(), 1u);
  EXPECT_EQ(a.headers[0].name, "X-Next");
  EXPECT_EQ(a.headers[0].value, "2");
  EXPECT_EQ(a.content_type, "application/json");
  // A top-level array is an envelope too.
  auto bare = accept(with(minimal(), "answers.data", R"({"status":200,"body":"$items"})"));
  EXPECT_EQ(render_list_answer(bare.data, items, 2).body, R"([{"id":1},{"id":2}])");
  refused_for(with(minimal(), "answers.data", R"({"status":200,"body":{"a":1}})"),
              "answers.data.body", "exactly once");
  refused_for(with(minimal(), "answers.data", R"({"status":204})"), "answers.data.status",
              "not 204");
  refused_for(with(minimal(), "answers.data", R"({"status":200})"), "answers.data.body", "missing");
  refused_for(with(minimal(), "answers.data", R"({"status":200,"body":"$items","x":1})"),
              "answers.data.x", "unknown field");
  refused_for(without(minimal(), "answers.data"), "answers.data", "missing");
}

TEST(ProfileField, AnswersTimeout) {
  for (int status : {204, 304}) {
    auto p = accept(
        with(minimal(), "answers.timeout",
             R"({"status":)" + std::to_string(status) + R"(,"headers":{"X-C":"${cursor}"}})"));
    auto a = render_list_answer(p.timeout_answer, {}, 77);
    EXPECT_EQ(a.status, status);
    EXPECT_EQ(a.body, "");
    EXPECT_EQ(a.content_type, "");
    EXPECT_EQ(a.headers.at(0).value, "77");
    refused_for(with(minimal(), "answers.timeout",
                     R"({"status":)" + std::to_string(status) + R"(,"body":{}})"),
                "answers.timeout.body", "no body");
  }
  auto empty_list = accept(
      with(minimal(), "answers.timeout", R"({"status":200,"body":{"list":[],"c":"$cursor"}})"));
  EXPECT_EQ(render_list_answer(empty_list.timeout_answer, {}, 5).body, R"({"list":[],"c":5})");
  auto via_items =
      accept(with(minimal(), "answers.timeout", R"({"status":200,"body":{"list":"$items"}})"));
  EXPECT_EQ(render_list_answer(via_items.timeout_answer, {}, 5).body, R"({"list":[]})");
  refused_for(with(minimal(), "answers.timeout", R"({"status":500})"), "answers.timeout.status",
              "or 304");
  refused_for(with(minimal(), "answers.timeout", R"({"status":200})"), "answers.timeout.body",
              "missing");
}

TEST(ProfileField, AnswersReset) {
  auto p = accept(
      with(minimal(), "answers.reset",
           R"({"status":200,"headers":{"X-Resync":"1"},"body":{"resync":true,"l":"$items"}})"));
  auto a = render_list_answer(p.reset, {}, 3);
  EXPECT_EQ(a.body, R"({"resync":true,"l":[]})");
  EXPECT_EQ(a.headers.at(0).name, "X-Resync");
  refused_for(without(minimal(), "answers.reset"), "answers.reset", "missing");
  refused_for(with(minimal(), "answers.reset", R"({"status":200,"body":{"x":"$message"}})"),
              "answers.reset.body.x", "unknown placeholder");
}

TEST(ProfileField, AnswersErrors) {
  // Defaults: Cutover's own error shape.
  auto d = accept(minimal());
  auto bad = render_error_answer(d.bad_cursor, "after: malformed");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"error":"bad_request","message":"after: malformed"})");
  EXPECT_EQ(render_error_answer(d.unauthorized, "x").status, 401);
  auto busy = render_error_answer(d.unavailable, "retry");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers.at(0).name, "Retry-After");
  // The old app's own.
  auto p = accept(with(
      with(
          with(
              minimal(), "answers.bad_cursor",
              R"({"status":422,"body":{"ok":false,"error":{"code":"BAD_CURSOR","detail":"${message}!"}}})"),
          "answers.unauthorized",
          R"({"status":403,"content_type":"text/plain","body":"$message"})"),
      "answers.unavailable", R"({"status":429,"headers":{"Retry-After":"5"}})"));
  EXPECT_EQ(render_error_answer(p.bad_cursor, "a \"b\"").body,
            R"({"ok":false,"error":{"code":"BAD_CURSOR","detail":"a \"b\"!"}})");
  EXPECT_EQ(p.bad_cursor.status, 422);
  auto forbidden = render_error_answer(p.unauthorized, "no");
  EXPECT_EQ(forbidden.body, R"("no")");
  EXPECT_EQ(forbidden.content_type, "text/plain");
  auto slow = render_error_answer(p.unavailable, "x");
  EXPECT_EQ(slow.status, 429);
  EXPECT_EQ(slow.body, "");
  refused_for(with(minimal(), "answers.bad_cursor", R"({"status":200})"),
              "answers.bad_cursor.status", "4xx or 5xx");
  refused_for(with(minimal(), "answers.bad_cursor", R"({"status":400,"body":"$items"})"),
              "answers.bad_cursor.body", "unknown placeholder");
  refused_for(
      with(minimal(), "answers.unauthorized", R"({"status":401,"headers":{"X-Why":"${message}"}})"),
      "answers.unauthorized.headers.X-Why", "unknown placeholder");
}

TEST(ProfileField, AnswerHeaders) {
  refused_for(with(minimal(), "answers.data.headers", R"({"Content-Type":"x"})"),
              "answers.data.headers.Content-Type", "writes this header itself");
  refused_for(with(minimal(), "answers.data.headers", R"({"Bad Name":"x"})"),
              "answers.data.headers.Bad Name", "token");
  refused_for(with(minimal(), "answers.data.headers", R"({"X-A":"a\nb"})"),
              "answers.data.headers.X-A", "control characters");
  refused_for(with(minimal(), "answers.data.headers", R"({"X-A":1})"), "answers.data.headers.X-A",
              "expected a string");
  // A string-form cursor in a header: the prefix, no quotes.
  auto p = accept(with(with(with(minimal(), "request.cursor.form", R"("string")"),
                            "request.cursor.prefix", R"("c:")"),
                       "answers.timeout.headers", R"({"X-C":"next=${cursor}"})"));
  EXPECT_EQ(render_list_answer(p.timeout_answer, {}, 9).headers.at(0).value, "next=c:9");
}

TEST(ProfileField, IdentityUser) {
  EXPECT_EQ(accept(with(minimal(), "identity.user", R"("user.id")")).identity.user_field,
            (std::vector<std::string>{"user", "id"}));
  EXPECT_EQ(accept(with(minimal(), "identity.user", R"(["a.b","c"])")).identity.user_field,
            (std::vector<std::string>{"a.b", "c"}));
  refused_for(with(minimal(), "identity.user", R"("user..id")"), "identity.user", "empty");
  refused_for(with(minimal(), "identity.user", "7"), "identity.user", "path to the user id");
  refused_for(with(minimal(), "identity.user", "[]"), "identity.user", "at least one");
}

TEST(ProfileField, IdentitySessionCookie) {
  EXPECT_EQ(
      accept(with(minimal(), "identity.session_cookie", R"("LSESSION")")).identity.session_cookie,
      "LSESSION");
  EXPECT_EQ(accept(with(minimal(), "identity.session_cookie", "null")).identity.session_cookie, "");
  refused_for(with(minimal(), "identity.session_cookie", R"("a;b")"), "identity.session_cookie",
              "token");
}

TEST(ProfileField, IdentityPath) {
  EXPECT_EQ(accept(with(minimal(), "identity.path", R"("/auth/whoami")")).identity.path,
            "/auth/whoami");
  refused_for(with(minimal(), "identity.path", R"("whoami")"), "identity.path", "'/'");
  refused_for(with(minimal(), "identity.x", "1"), "identity.x", "unknown field");
}

TEST(ProfileField, ImportTime) {
  EXPECT_EQ(accept(with(minimal(), "import.time", R"("epoch_s")")).import.time,
            time_format::epoch_s);
  EXPECT_EQ(accept(with(minimal(), "import.time", R"("epoch_ms")")).import.time,
            time_format::epoch_ms);
  refused_for(with(minimal(), "import.time", R"("unix")"), "import.time", "iso8601, epoch_ms");
}

TEST(ProfileReader, NamesFileLineAndField) {
  std::string text =
      "{\n"
      "  \"profile\": 1,\n"
      "  \"request\": {\"path\": \"/poll\", \"cursor\": {\"name\": \"after\"}},\n"
      "  \"item\": {\"id\": \"$id\"},\n"
      "  \"answers\": {\n"
      "    \"data\": {\"status\": 200, \"body\": \"$items\"},\n"
      "    \"timeout\": {\n"
      "      \"status\": 500\n"
      "    },\n"
      "    \"reset\": {\"status\": 200, \"body\": \"$items\"}\n"
      "  }\n"
      "}\n";
  auto r = parse_profile(text, "old.json");
  auto& e = std::get<profile_error>(r);
  EXPECT_EQ(e.line, 8);
  EXPECT_EQ(e.field, "answers.timeout.status");
  EXPECT_EQ(e.text().substr(0, 34), "old.json:8: answers.timeout.status");
}

TEST(ProfileReader, UnknownKeyIsNamedOnItsLine) {
  std::string text = "{\n  \"profile\": 1,\n  \"bacth\": 10\n}";
  auto e = std::get<profile_error>(parse_profile(text, "f.json"));
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.field, "bacth");
  EXPECT_NE(e.message.find("unknown field"), std::string::npos);
}

TEST(ProfileReader, RepeatedKeyIsRefused) {
  std::string text = "{\n  \"profile\": 1,\n  \"profile\": 1\n}";
  auto e = std::get<profile_error>(parse_profile(text, "f.json"));
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("given twice (first on line 2)"), std::string::npos);
}

TEST(ProfileReader, SyntaxErrorsHaveALine) {
  auto e = std::get<profile_error>(parse_profile("{\n\"profile\": 1,\n\n\"x\": tru\n}", "f.json"));
  EXPECT_EQ(e.line, 4);
  EXPECT_NE(e.message.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(std::get<profile_error>(parse_profile("{} x", "f.json")).message.substr(0, 14),
            "not valid JSON");
  EXPECT_EQ(std::get<profile_error>(parse_profile("", "f.json")).message.substr(0, 14),
            "not valid JSON");
  EXPECT_EQ(std::get<profile_error>(parse_profile("[1]", "f.json")).field, "(top level)");
  auto missing = std::get<profile_error>(load_profile_file("/nonexistent/profile.json"));
  EXPECT_EQ(missing.text(), "/nonexistent/profile.json: cannot read the file");
}

TEST(ProfileReader, BuiltinIsTheShippedFile) {
  std::ifstream in(std::string(CUTOVER_SOURCE_DIR) + "/docs/profiles/builtin.json");
  std::string shipped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(builtin_profile_text(), shipped);
  const profile& p = builtin_profile();
  EXPECT_EQ(p.path, "/api/notifications/poll");
  EXPECT_EQ(p.cursor.name, "since");
  EXPECT_TRUE(p.cursor.stream_ids);
  EXPECT_EQ(p.batch, 100u);
}

TEST(ProfileReader, ShippedProfilesParse) {
  for (const char* name : {"builtin.json", "legacy_sim.json"}) {
    auto r = load_profile_file(std::string(CUTOVER_SOURCE_DIR) + "/docs/profiles/" + name);
    EXPECT_TRUE(std::holds_alternative<profile>(r))
        << name << ": " << std::get<profile_error>(r).text();
  }
}

}  // namespace
}  // namespace cutover::legacy
