// IPv6 extension headers (RFC 8200 4): golden bytes from scapy, round trip
// of every Repr, option TLV bounds, and the chain walk.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/ipv6.hpp"
#include "stack/wire/ipv6_ext.hpp"

using namespace tapstack::wire;

namespace {

// scapy: IPv6ExtHdrHopByHop(nh=58, options=[RouterAlert(value=0), PadN(optdata=b"\0\0")])
// (scapy pads the rest with PadN).
const std::vector<std::uint8_t> kHopByHop = {0x3a, 0x01, 0x05, 0x02, 0x00, 0x00, 0x01, 0x02,
                                             0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
// scapy: IPv6ExtHdrDestOpt(nh=59, options=[HBHOptUnknown(otype=0x8f, optdata=b"\x01\x02\x03")])
const std::vector<std::uint8_t> kDestOpts = {0x3b, 0x00, 0x8f, 0x03, 0x01, 0x02, 0x03, 0x00};
// scapy: IPv6ExtHdrRouting(nh=58, type=0, segleft=1, addresses=["fd00::9"])
const std::vector<std::uint8_t> kRouting0 = {0x3a, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                             0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09};
// scapy: IPv6ExtHdrFragment(nh=58, offset=185, m=1, id=0xdeadbeef)
const std::vector<std::uint8_t> kFragment = {0x3a, 0x00, 0x05, 0xc9, 0xde, 0xad, 0xbe, 0xef};

}  // namespace

TEST_CASE("RFC 8200 4.3/4.2: golden hop-by-hop header: options in order, round trip to the same bytes") {
    auto v = Ipv6OptionsView::check(kHopByHop);
    REQUIRE(v);
    CHECK(v->next_header() == next_header::kIcmpv6);
    CHECK(v->header_len() == 16);
    const auto opts = v->options();
    REQUIRE(opts.size() == 3);
    CHECK(opts[0].type == ipv6_option::kRouterAlert);
    CHECK(opts[0].offset == 2);
    CHECK(opts[0].data.size() == 2);
    CHECK(opts[1].type == ipv6_option::kPadN);
    CHECK(opts[1].offset == 6);
    CHECK(opts[2].offset == 10);
    const Ipv6OptionsRepr r = Ipv6OptionsRepr::parse(*v);
    REQUIRE(r.buffer_len() == 16);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(out == kHopByHop);
}

TEST_CASE("RFC 8200 4.2: an option's action is its type's two high bits") {
    CHECK(ipv6_option_action(0x1e) == Ipv6OptionAction::kSkip);
    CHECK(ipv6_option_action(0x4f) == Ipv6OptionAction::kDiscard);
    CHECK(ipv6_option_action(0x8f) == Ipv6OptionAction::kDiscardSendProblem);
    CHECK(ipv6_option_action(0xc2) == Ipv6OptionAction::kDiscardSendProblemUnlessMulticast);
}

TEST_CASE("RFC 8200 4.6: golden destination options with an unknown option; emit pads with Pad1/PadN") {
    auto v = Ipv6OptionsView::check(kDestOpts);
    REQUIRE(v);
    const auto opts = v->options();
    REQUIRE(opts.size() == 2);
    CHECK(opts[0].type == 0x8f);
    CHECK(opts[0].offset == 2);
    CHECK(opts[1].type == ipv6_option::kPad1);
    Ipv6OptionsRepr r = Ipv6OptionsRepr::parse(*v);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(out == kDestOpts);
    // Without the trailing Pad1, emit() adds it back.
    r.options.pop_back();
    CHECK(r.buffer_len() == 8);
    std::vector<std::uint8_t> again(r.buffer_len());
    r.emit(again);
    CHECK(again == kDestOpts);
    // Needing more than one byte of padding: PadN.
    const std::uint8_t one[] = {7};
    Ipv6OptionsRepr small{next_header::kNoNext, {Ipv6Option{0x1e, one, 0}}};
    std::vector<std::uint8_t> padded(small.buffer_len());
    small.emit(padded);
    CHECK(padded == std::vector<std::uint8_t>{0x3b, 0x00, 0x1e, 0x01, 0x07, 0x01, 0x01, 0x00});
    auto pv = Ipv6OptionsView::check(padded);
    REQUIRE(pv);
    CHECK(Ipv6OptionsRepr::parse(*pv).options.size() == 2);
}

TEST_CASE("RFC 8200 4.2: a header running past the packet or an option past its header is refused") {
    Ipv6ExtError e{};
    CHECK_FALSE(Ipv6OptionsView::check(std::span(kHopByHop).first(15), &e));
    CHECK(e == Ipv6ExtError::kTruncated);
    CHECK_FALSE(Ipv6OptionsView::check(std::span(kHopByHop).first(7), &e));
    CHECK(e == Ipv6ExtError::kTruncated);
    auto bad = kDestOpts;
    bad[3] = 0x05;  // the option claims 5 bytes, 4 remain
    CHECK_FALSE(Ipv6OptionsView::check(bad, &e));
    CHECK(e == Ipv6ExtError::kBadOption);
    const std::vector<std::uint8_t> dangling = {0x3b, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x8f};  // type without length
    CHECK_FALSE(Ipv6OptionsView::check(dangling, &e));
    CHECK(e == Ipv6ExtError::kBadOption);
}

TEST_CASE("RFC 8200 4.4: golden type 0 routing header: fields and round trip") {
    auto v = Ipv6RoutingView::check(kRouting0);
    REQUIRE(v);
    CHECK(v->next_header() == next_header::kIcmpv6);
    CHECK(v->routing_type() == 0);
    CHECK(v->segments_left() == 1);
    CHECK(v->header_len() == 24);
    const Ipv6RoutingRepr r = Ipv6RoutingRepr::parse(*v);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(out == kRouting0);
    CHECK_FALSE(Ipv6RoutingView::check(std::span(kRouting0).first(16)));
}

TEST_CASE("RFC 8200 4.5: golden fragment header: offset in bytes, M, identification; reserved bits ignored") {
    auto v = Ipv6FragmentView::check(kFragment);
    REQUIRE(v);
    CHECK(v->next_header() == next_header::kIcmpv6);
    CHECK(v->fragment_offset() == 185 * 8);
    CHECK(v->more_fragments());
    CHECK(v->identification() == 0xdeadbeef);
    CHECK_FALSE(v->is_atomic());
    const Ipv6FragmentRepr r = Ipv6FragmentRepr::parse(*v);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(out == kFragment);
    auto reserved = kFragment;
    reserved[1] = 0xff;
    reserved[3] |= 0x06;
    auto rv = Ipv6FragmentView::check(reserved);
    REQUIRE(rv);
    CHECK(Ipv6FragmentRepr::parse(*rv) == r);
    const std::vector<std::uint8_t> atomic = {0x3a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    CHECK(Ipv6FragmentView::check(atomic)->is_atomic());
}

TEST_CASE("ipv6_chain_end follows every extension header to the upper layer") {
    std::vector<std::uint8_t> chain;
    auto hbh = kHopByHop;
    hbh[0] = next_header::kDestinationOptions;
    chain.insert(chain.end(), hbh.begin(), hbh.end());
    auto dst = kDestOpts;
    dst[0] = next_header::kRouting;
    chain.insert(chain.end(), dst.begin(), dst.end());
    auto rh = kRouting0;
    rh[0] = next_header::kFragment;
    chain.insert(chain.end(), rh.begin(), rh.end());
    std::vector<std::uint8_t> frag = {next_header::kTcp, 0, 0, 0, 0, 0, 0, 1};  // atomic
    chain.insert(chain.end(), frag.begin(), frag.end());
    auto end = ipv6_chain_end(chain, next_header::kHopByHop, 16);
    REQUIRE(end);
    CHECK(end->next_header == next_header::kTcp);
    CHECK(end->offset == 16 + 8 + 24 + 8);
    CHECK_FALSE(ipv6_chain_end(chain, next_header::kHopByHop, 3));  // four headers, limit three
    CHECK_FALSE(ipv6_chain_end(std::span(chain).first(30), next_header::kHopByHop, 16));
    // A non-first fragment ends the walk at the fragment header.
    chain[chain.size() - 6] = 0x01;
    end = ipv6_chain_end(chain, next_header::kHopByHop, 16);
    REQUIRE(end);
    CHECK(end->next_header == next_header::kFragment);
    CHECK(end->offset == 16 + 8 + 24);
    end = ipv6_chain_end({}, next_header::kIcmpv6, 16);
    REQUIRE(end);
    CHECK(end->offset == 0);
}
