// Connect rules (daemon/connect_rules.hpp): the rule syntax of
// api.connect_allow / api.connect_deny, prefix and port matching, and the
// precedence (deny wins, default allows everything).
#include <doctest/doctest.h>

#include <string>

#include "daemon/connect_rules.hpp"

using tapstack::daemon::AddressPrefix;
using tapstack::daemon::ConnectRule;
using tapstack::daemon::ConnectRules;
using tapstack::daemon::describe_refusal;
using tapstack::daemon::parse_connect_rule;
using tapstack::daemon::PortRange;
using tapstack::wire::Ipv4Address;
using tapstack::wire::IpEndpoint;

namespace {

ConnectRule rule(const std::string& text) {
    auto r = parse_connect_rule(text);
    if (auto* why = std::get_if<std::string>(&r)) FAIL_CHECK(text << ": " << *why);
    REQUIRE(std::holds_alternative<ConnectRule>(r));
    return std::get<ConnectRule>(r);
}

std::string reason(const std::string& text) {
    auto r = parse_connect_rule(text);
    REQUIRE_MESSAGE(std::holds_alternative<std::string>(r), text << " parsed");
    return std::get<std::string>(r);
}

IpEndpoint ep(const char* address, std::uint16_t port) { return IpEndpoint{*tapstack::wire::IpAddress::parse(address), port}; }

}  // namespace

TEST_CASE("rule syntax: prefix, prefix with one port, prefix with a port range, bare address") {
    auto r = rule("10.0.0.0/8");
    CHECK(r.prefix == AddressPrefix::ipv4(Ipv4Address::from_octets(10, 0, 0, 0), 8));
    CHECK(r.ports == PortRange{1, 65535});
    CHECK(r.text == "10.0.0.0/8");
    r = rule("198.19.77.1/32:22");
    CHECK(r.prefix.length == 32);
    CHECK(r.ports == PortRange{22, 22});
    r = rule("0.0.0.0/0:1-1023");
    CHECK(r.prefix.length == 0);
    CHECK(r.ports == PortRange{1, 1023});
    r = rule("198.19.77.1");
    CHECK(r.prefix == AddressPrefix::ipv4(Ipv4Address::from_octets(198, 19, 77, 1), 32));
    r = rule("198.19.77.1:443");
    CHECK(r.prefix.length == 32);
    CHECK(r.ports == PortRange{443, 443});
}

TEST_CASE("bad rules are refused with a reason naming the bad part") {
    CHECK(reason("") == "an empty rule");
    CHECK(reason("10.0.0.300/8").find("\"10.0.0.300\" is not an IPv4 address") != std::string::npos);
    CHECK(reason("10.0.0.0/33").find("\"33\" is not a prefix length 0..32") != std::string::npos);
    CHECK(reason("10.0.0.0/").find("is not a prefix length") != std::string::npos);
    CHECK(reason("10.0.0.0/008").find("is not a prefix length") != std::string::npos);
    CHECK(reason("10.0.0.0/8:0").find("\"0\" is not a port 1..65535") != std::string::npos);
    CHECK(reason("10.0.0.0/8:65536").find("is not a port") != std::string::npos);
    CHECK(reason("10.0.0.0/8:").find("is not a port") != std::string::npos);
    CHECK(reason("10.0.0.0/8:ssh").find("is not a port") != std::string::npos);
    CHECK(reason("10.0.0.0/8:1023-1").find("is not a port range") != std::string::npos);
    CHECK(reason("10.0.0.0/8:1-").find("is not a port range") != std::string::npos);
    CHECK(reason(" 10.0.0.0/8").find("is not an IPv4 address") != std::string::npos);
    CHECK(reason("10.0.0.1/8") == "\"10.0.0.1/8\" has address bits set beyond /8 (10.0.0.0/8 would match)");
    CHECK(reason("2001:db8::/129").find("\"129\" is not a prefix length 0..128") != std::string::npos);
    CHECK(reason("2001:db8::/064").find("\"064\" is not a prefix length 0..128") != std::string::npos);
    CHECK(reason("2001:db8::/1280").find("is not a prefix length") != std::string::npos);
    CHECK(reason("2001:db8::g/32").find("\"2001:db8::g\" is not an IPv6 address") != std::string::npos);
    CHECK(reason("[2001:db8::1]443").find("after ']' comes :PORT") != std::string::npos);
    CHECK(reason("[2001:db8::1").find("'[' without ']'") != std::string::npos);
    CHECK(reason("[2001:db8::1]:0").find("is not a port") != std::string::npos);
    CHECK(reason("2001:db8::1/32") ==
          "\"2001:db8::1/32\" has address bits set beyond /32 (2001:db8::/32 would match)");
}

TEST_CASE("IPv6 rules: a bare prefix matches every port, brackets take a port range; families never mix") {
    const auto bare = rule("fd00::/8");
    CHECK(bare.matches(ep("fd3e::1", 1)));
    CHECK(bare.matches(ep("fdff:ffff::ffff", 65535)));
    CHECK_FALSE(bare.matches(ep("fe80::1", 80)));
    CHECK_FALSE(bare.matches(ep("10.0.0.1", 80)));  // an IPv4 endpoint never matches an IPv6 prefix
    const auto one = rule("2001:db8::1");  // a /128
    CHECK(one.matches(ep("2001:db8::1", 443)));
    CHECK_FALSE(one.matches(ep("2001:db8::2", 443)));
    const auto ports = rule("[2001:db8::/32]:1000-2000");
    CHECK(ports.matches(ep("2001:db8:ffff::1", 1000)));
    CHECK_FALSE(ports.matches(ep("2001:db8::1", 2001)));
    CHECK_FALSE(ports.matches(ep("2001:db9::1", 1500)));
    const auto port = rule("[::/0]:22");
    CHECK(port.matches(ep("::1", 22)));
    CHECK_FALSE(port.matches(ep("::1", 23)));
    CHECK_FALSE(rule("0.0.0.0/0").matches(ep("2001:db8::1", 80)));
}

TEST_CASE("a rule matches addresses inside its prefix and ports inside its range, nothing else") {
    const auto r = rule("10.1.0.0/16:1000-2000");
    CHECK(r.matches(ep("10.1.0.0", 1000)));
    CHECK(r.matches(ep("10.1.255.255", 2000)));
    CHECK_FALSE(r.matches(ep("10.2.0.0", 1500)));
    CHECK_FALSE(r.matches(ep("10.0.255.255", 1500)));
    CHECK_FALSE(r.matches(ep("10.1.2.3", 999)));
    CHECK_FALSE(r.matches(ep("10.1.2.3", 2001)));
    const auto any = rule("0.0.0.0/0");
    CHECK(any.matches(ep("255.255.255.255", 65535)));
    CHECK(any.matches(ep("0.0.0.0", 1)));
    // A prefix length that is not a whole number of bytes.
    const auto odd = rule("192.168.4.0/22");
    CHECK(odd.matches(ep("192.168.7.255", 1)));
    CHECK_FALSE(odd.matches(ep("192.168.8.0", 1)));
    CHECK_FALSE(odd.matches(ep("192.168.3.255", 1)));
}

TEST_CASE("an IPv4 prefix never matches an address of another family") {
    const auto p = AddressPrefix::ipv4(Ipv4Address::any(), 0);
    const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    CHECK_FALSE(p.contains(AddressPrefix::Family::kIpv6, v6));
    CHECK(p.contains(AddressPrefix::Family::kIpv4, v6));  // any 4 bytes are in 0.0.0.0/0
}

TEST_CASE("the default allows everything; deny wins over allow whatever the order") {
    ConnectRules rules;
    auto v = rules.check(ep("198.19.77.1", 22));
    CHECK(v.allowed);
    CHECK(rules.check(ep("fd00::1", 22)).allowed);  // ::/0 is allowed by default too
    rules.deny = {rule("0.0.0.0/0:1-1023"), rule("198.19.77.1/32")};
    rules.allow = {rule("198.19.77.0/24"), rule("10.0.0.0/8")};
    v = rules.check(ep("10.0.0.1", 22));
    CHECK_FALSE(v.allowed);
    REQUIRE(v.rule != nullptr);
    CHECK(v.rule->text == "0.0.0.0/0:1-1023");
    CHECK(describe_refusal(v) == "denied by api.connect_deny rule \"0.0.0.0/0:1-1023\"");
    v = rules.check(ep("198.19.77.1", 8080));
    CHECK_FALSE(v.allowed);
    CHECK(v.rule->text == "198.19.77.1/32");
    v = rules.check(ep("198.19.77.2", 8080));
    CHECK(v.allowed);
    CHECK(v.rule->text == "198.19.77.0/24");
    v = rules.check(ep("192.0.2.1", 8080));
    CHECK_FALSE(v.allowed);
    CHECK(v.rule == nullptr);
    CHECK(describe_refusal(v) == "not allowed by any api.connect_allow rule");
    rules.allow.clear();
    CHECK_FALSE(rules.check(ep("10.0.0.1", 8080)).allowed);  // an empty allow list allows nothing
}
