#include "stack/wire/tcp_header.hpp"

#include <algorithm>

#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

namespace tapstack::wire {

std::optional<TcpView> TcpView::check(std::span<const std::uint8_t> segment) {
    if (segment.size() < kTcpHeaderMinLen) return std::nullopt;
    const std::size_t offset = std::size_t{static_cast<std::uint8_t>(segment[12] >> 4)} * 4;
    if (offset < kTcpHeaderMinLen || offset > segment.size()) return std::nullopt;
    return TcpView(segment);
}

std::uint16_t TcpView::src_port() const { return load_be16(bytes_.data()); }
std::uint16_t TcpView::dst_port() const { return load_be16(bytes_.data() + 2); }
std::uint32_t TcpView::seq() const { return load_be32(bytes_.data() + 4); }
std::uint32_t TcpView::ack() const { return load_be32(bytes_.data() + 8); }
std::size_t TcpView::header_len() const { return std::size_t{static_cast<std::uint8_t>(bytes_[12] >> 4)} * 4; }
std::uint8_t TcpView::flags() const { return bytes_[13]; }
std::uint16_t TcpView::window() const { return load_be16(bytes_.data() + 14); }
std::uint16_t TcpView::checksum() const { return load_be16(bytes_.data() + 16); }
std::uint16_t TcpView::urgent() const { return load_be16(bytes_.data() + 18); }
std::span<const std::uint8_t> TcpView::options() const {
    return bytes_.subspan(kTcpHeaderMinLen, header_len() - kTcpHeaderMinLen);
}
std::span<const std::uint8_t> TcpView::payload() const { return bytes_.subspan(header_len()); }

bool TcpView::verify_checksum(const IpAddress& src, const IpAddress& dst) const {
    if (bytes_.size() > 0xffff) return false;
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, kIpProtoTcp, static_cast<std::uint32_t>(bytes_.size()));
    acc.add(bytes_);
    return acc.checksum() == 0;
}

std::optional<TcpRepr::ParseError> TcpRepr::parse(std::span<const std::uint8_t> segment, const IpAddress& src,
                                                  const IpAddress& dst, TcpRepr& out, bool skip_checksum) {
    if (segment.size() < kTcpHeaderMinLen) return ParseError::kTruncated;
    const auto view = TcpView::check(segment);
    if (!view) return ParseError::kBadDataOffset;
    if (!skip_checksum && !view->verify_checksum(src, dst)) return ParseError::kBadChecksum;
    out.src_port = view->src_port();
    out.dst_port = view->dst_port();
    out.seq = view->seq();
    out.ack = view->ack();
    out.flags = view->flags();
    out.window = view->window();
    out.urgent = view->urgent();
    out.options = TcpOptions::parse(view->options());
    out.payload = view->payload();
    return std::nullopt;
}

void TcpRepr::emit(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst) const {
    emit_fields(out);
    const std::size_t total = buffer_len();
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, kIpProtoTcp, static_cast<std::uint32_t>(total));
    acc.add(out.first(total));
    store_be16(out.data() + 16, acc.checksum());
}

void TcpRepr::emit_partial(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst) const {
    emit_fields(out);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, kIpProtoTcp, static_cast<std::uint32_t>(buffer_len()));
    store_be16(out.data() + 16, acc.folded_sum());
}

void TcpRepr::emit_header(std::span<std::uint8_t> out, const IpAddress& src, const IpAddress& dst,
                          std::span<const std::span<const std::uint8_t>> payload_parts, bool partial) const {
    TcpRepr header = *this;
    header.payload = {};
    header.emit_fields(out);
    const std::size_t hlen = header_len();
    std::size_t total = hlen;
    for (const auto& p : payload_parts) total += p.size();
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, kIpProtoTcp, static_cast<std::uint32_t>(total));
    if (partial) {
        store_be16(out.data() + 16, acc.folded_sum());
        return;
    }
    acc.add(out.first(hlen));
    for (const auto& p : payload_parts) acc.add(p);
    store_be16(out.data() + 16, acc.checksum());
}

void TcpRepr::emit_fields(std::span<std::uint8_t> out) const {
    const std::size_t hlen = header_len();
    std::uint8_t* p = out.data();
    store_be16(p, src_port);
    store_be16(p + 2, dst_port);
    store_be32(p + 4, seq);
    store_be32(p + 8, ack);
    p[12] = static_cast<std::uint8_t>((hlen / 4) << 4);
    p[13] = flags;
    store_be16(p + 14, window);
    store_be16(p + 16, 0);
    store_be16(p + 18, urgent);
    options.emit(out.subspan(kTcpHeaderMinLen, hlen - kTcpHeaderMinLen));
    if (!payload.empty()) std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(hlen));
}

}  // namespace tapstack::wire
