// wire::TxOffload / RxOffload and the partial checksum.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <span>
#include <vector>

#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/offload.hpp"
#include "stack/wire/tcp_header.hpp"

using namespace tapstack;
using namespace tapstack::wire;

namespace {

const Ipv4Address kSrc = Ipv4Address::from_octets(198, 19, 77, 1);
const Ipv4Address kDst = Ipv4Address::from_octets(198, 19, 77, 2);

TcpRepr segment(const std::vector<std::uint8_t>& payload) {
    TcpRepr r;
    r.src_port = 443;
    r.dst_port = 50000;
    r.seq = 0xfffffff0;
    r.ack = 77;
    r.flags = tcp_flag::kAck | tcp_flag::kPsh;
    r.window = 512;
    r.options.timestamps = TcpTimestamps{1, 2};
    r.payload = payload;
    return r;
}

std::vector<std::uint8_t> bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + 7);
    return v;
}

}  // namespace

TEST_CASE("virtio 5.1.6.2: emit_partial() leaves the folded pseudo-header sum in the TCP checksum field") {
    for (std::size_t n : {0u, 1u, 1447u, 60001u}) {
        CAPTURE(n);
        const auto payload = bytes(n);
        const TcpRepr r = segment(payload);
        std::vector<std::uint8_t> partial(r.buffer_len()), full(r.buffer_len());
        r.emit_partial(partial, kSrc, kDst);
        r.emit(full, kSrc, kDst);
        ChecksumAccumulator pseudo;
        add_ipv4_pseudo_header(pseudo, kSrc, kDst, kIpProtoTcp, static_cast<std::uint16_t>(r.buffer_len()));
        CHECK(load_be16(partial.data() + 16) == pseudo.folded_sum());
        // Everything but the checksum field is what emit() writes.
        CHECK(std::equal(partial.begin(), partial.begin() + 16, full.begin()));
        CHECK(std::equal(partial.begin() + 18, partial.end(), full.begin() + 18));
        // Completing it in software gives a checksum that verifies.
        TxOffload o;
        o.partial_csum = true;
        o.csum_offset = 16;
        complete_partial_checksum(partial, o);
        TcpRepr back;
        CHECK_FALSE(TcpRepr::parse(partial, kSrc, kDst, back).has_value());
        CHECK(back.payload.size() == n);
    }
}

TEST_CASE("emit_header(): the header of a payload sent as parts (split at odd and even offsets) matches emit()") {
    for (std::size_t n : {1u, 2u, 1447u, 1448u, 65000u}) {
        for (std::size_t cut : {std::size_t{0}, std::size_t{1}, n / 2, n - 1}) {
            CAPTURE(n);
            CAPTURE(cut);
            const auto payload = bytes(n);
            const TcpRepr r = segment(payload);
            std::vector<std::uint8_t> full(r.buffer_len());
            r.emit(full, kSrc, kDst);
            const std::array<std::span<const std::uint8_t>, 2> parts{std::span(payload).first(cut),
                                                                      std::span(payload).subspan(cut)};
            std::vector<std::uint8_t> header(r.header_len()), partial(r.header_len());
            r.emit_header(header, kSrc, kDst, parts, false);
            CHECK(std::equal(header.begin(), header.end(), full.begin()));  // checksum included
            r.emit_header(partial, kSrc, kDst, parts, true);
            std::vector<std::uint8_t> want(r.buffer_len());
            r.emit_partial(want, kSrc, kDst);
            CHECK(std::equal(partial.begin(), partial.end(), want.begin()));
        }
    }
}

TEST_CASE("TxOffload::prepended() moves csum_start and hdr_len by the header put in front; none() stays none") {
    TxOffload o;
    CHECK(o.none());
    CHECK(o.prepended(34) == o);
    o.gso = GsoType::kTcpv4;
    o.gso_size = 1448;
    o.hdr_len = 32;
    o.partial_csum = true;
    o.csum_offset = 16;
    const TxOffload ip = o.prepended(20);
    const TxOffload eth = ip.prepended(14);
    CHECK(eth.csum_start == 34);
    CHECK(eth.csum_offset == 16);
    CHECK(eth.hdr_len == 66);
    CHECK(eth.gso_size == 1448);
    CHECK_FALSE(eth.none());
}

TEST_CASE("complete_partial_checksum(): no-op without partial_csum or with offsets outside the buffer") {
    std::vector<std::uint8_t> b = bytes(40);
    const auto before = b;
    complete_partial_checksum(b, TxOffload{});
    CHECK(b == before);
    TxOffload o;
    o.partial_csum = true;
    o.csum_start = 30;
    o.csum_offset = 9;  // field at 39..40: one byte past the end
    complete_partial_checksum(b, o);
    CHECK(b == before);
    o.csum_offset = 8;
    const std::uint16_t pseudo = load_be16(b.data() + 38);  // what the field held stands for the pseudo-header
    complete_partial_checksum(b, o);
    CHECK(b != before);
    ChecksumAccumulator acc;
    acc.add_u16(pseudo);
    acc.add(std::span<const std::uint8_t>(b).subspan(30));
    CHECK(acc.checksum() == 0);
}

TEST_CASE("RxOffload: the default is none; any flag makes it something") {
    RxOffload r;
    CHECK(r.none());
    r.csum_valid = true;
    CHECK_FALSE(r.none());
}
