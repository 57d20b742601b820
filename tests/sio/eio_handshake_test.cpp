#include "sio/eio_handshake.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace cutover::sio {
namespace {

eio_error error_of(http_method m, bool ws, eio_query q) {
  auto r = check_request(m, ws, q);
  EXPECT_TRUE(std::holds_alternative<eio_error>(r));
  return std::holds_alternative<eio_error>(r) ? std::get<eio_error>(r) : eio_error::forbidden;
}

TEST(EioHandshake, ErrorBodiesAreEngineIosOwn) {
  EXPECT_EQ(eio_error_body(eio_error::transport_unknown),
            R"({"code":0,"message":"Transport unknown"})");
  EXPECT_EQ(eio_error_body(eio_error::session_id_unknown),
            R"({"code":1,"message":"Session ID unknown"})");
  EXPECT_EQ(eio_error_body(eio_error::bad_handshake_method),
            R"({"code":2,"message":"Bad handshake method"})");
  EXPECT_EQ(eio_error_body(eio_error::bad_request), R"({"code":3,"message":"Bad request"})");
  EXPECT_EQ(eio_error_body(eio_error::forbidden), R"({"code":4,"message":"Forbidden"})");
  EXPECT_EQ(eio_error_body(eio_error::unsupported_protocol_version),
            R"({"code":5,"message":"Unsupported protocol version"})");
  EXPECT_EQ(eio_error_status(eio_error::forbidden), 403);
  EXPECT_EQ(eio_error_status(eio_error::unsupported_protocol_version), 400);
}

TEST(EioHandshake, PollingHandshakeAndSessionRequestsPass) {
  auto r = check_request(http_method::get, false, {"4", "polling", std::nullopt});
  ASSERT_TRUE(std::holds_alternative<eio_request>(r));
  EXPECT_EQ(std::get<eio_request>(r).transport, transport::polling);
  EXPECT_FALSE(std::get<eio_request>(r).sid);
  r = check_request(http_method::post, false, {"4", "polling", "abc"});
  ASSERT_TRUE(std::holds_alternative<eio_request>(r));
  EXPECT_EQ(*std::get<eio_request>(r).sid, "abc");
  r = check_request(http_method::get, true, {"4", "websocket", std::nullopt});
  ASSERT_TRUE(std::holds_alternative<eio_request>(r));
  EXPECT_EQ(std::get<eio_request>(r).transport, transport::websocket);
}

TEST(EioHandshake, EioMustBeExactlyFour) {
  EXPECT_EQ(error_of(http_method::get, false, {std::nullopt, "polling", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, false, {"abc", "polling", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, false, {"3", "polling", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, true, {"3", "websocket", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, false, {"04", "polling", std::nullopt}),
            eio_error::unsupported_protocol_version);
}

TEST(EioHandshake, TransportMustBeKnownAndMatchTheRequest) {
  EXPECT_EQ(error_of(http_method::get, false, {"4", std::nullopt, std::nullopt}),
            eio_error::transport_unknown);
  EXPECT_EQ(error_of(http_method::get, false, {"4", "abc", std::nullopt}),
            eio_error::transport_unknown);
  EXPECT_EQ(error_of(http_method::get, true, {"4", "polling", std::nullopt}),
            eio_error::transport_unknown);
  EXPECT_EQ(error_of(http_method::get, false, {"4", "websocket", std::nullopt}),
            eio_error::transport_unknown);
  // transport is checked before EIO, as the reference server does
  EXPECT_EQ(error_of(http_method::get, false, {"3", "abc", std::nullopt}),
            eio_error::transport_unknown);
}

// The published suite's four WebSocket refusal tests never await their check; these are
// the same four requests, asserted.
TEST(EioHandshake, WebSocketUpgradesWithBadQueriesAreRefused) {
  EXPECT_EQ(error_of(http_method::get, true, {std::nullopt, "websocket", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, true, {"abc", "websocket", std::nullopt}),
            eio_error::unsupported_protocol_version);
  EXPECT_EQ(error_of(http_method::get, true, {"4", std::nullopt, std::nullopt}),
            eio_error::transport_unknown);
  EXPECT_EQ(error_of(http_method::get, true, {"4", "abc", std::nullopt}),
            eio_error::transport_unknown);
}

TEST(EioHandshake, MethodRules) {
  EXPECT_EQ(error_of(http_method::post, false, {"4", "polling", std::nullopt}),
            eio_error::bad_handshake_method);
  EXPECT_EQ(error_of(http_method::other, false, {"4", "polling", std::nullopt}),
            eio_error::bad_handshake_method);
  EXPECT_EQ(error_of(http_method::other, false, {"4", "polling", "abc"}), eio_error::bad_request);
}

TEST(EioHandshake, OpenPacketHoldsExactlyTheFiveKeys) {
  eio_config cfg;
  cfg.ping_interval = std::chrono::milliseconds(300);
  cfg.ping_timeout = std::chrono::milliseconds(200);
  std::string p = open_packet("abc", transport::polling, cfg);
  ASSERT_EQ(p[0], '0');
  auto v = boost::json::parse(p.substr(1)).as_object();
  EXPECT_EQ(v.size(), 5u);
  EXPECT_EQ(v.at("sid").as_string(), "abc");
  EXPECT_EQ(v.at("upgrades").as_array().size(), 1u);
  EXPECT_EQ(v.at("upgrades").as_array()[0].as_string(), "websocket");
  EXPECT_EQ(v.at("pingInterval").as_int64(), 300);
  EXPECT_EQ(v.at("pingTimeout").as_int64(), 200);
  EXPECT_EQ(v.at("maxPayload").as_int64(), 1000000);
  auto w = boost::json::parse(open_packet("abc", transport::websocket, cfg).substr(1)).as_object();
  EXPECT_TRUE(w.at("upgrades").as_array().empty());
}

}  // namespace
}  // namespace cutover::sio
