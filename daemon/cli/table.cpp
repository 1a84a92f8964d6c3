// Aligned text tables for the tapstack command; see table.hpp.
#include "daemon/cli/table.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>

namespace tapstack::cli {
namespace {

std::string field_or_dash(const client::Fields& f, std::string_view key) {
    auto v = client::find_field(f, key);
    return v && !v->empty() ? std::string(*v) : std::string("-");
}

// Microseconds as milliseconds with three decimals ("1234" -> "1.234");
// "-" for no sample (0) or anything that is not a number.
std::string us_as_ms(const client::Fields& f, std::string_view key) {
    auto v = client::find_field(f, key);
    std::uint64_t us = 0;
    if (!v || v->empty()) {
        return "-";
    }
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), us);
    if (ec != std::errc() || ptr != v->data() + v->size() || us == 0) {
        return "-";
    }
    std::string frac = std::to_string(us % 1000);
    return std::to_string(us / 1000) + "." + std::string(3 - frac.size(), '0') + frac;
}

}  // namespace

std::string render(const Table& table) {
    const std::size_t columns = table.header.size();
    std::vector<std::size_t> width(columns, 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < columns && i < row.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    };
    measure(table.header);
    for (const auto& row : table.rows) {
        measure(row);
    }
    std::string out;
    auto emit = [&](const std::vector<std::string>& row, bool header) {
        std::string line;
        for (std::size_t i = 0; i < columns; ++i) {
            const std::string cell = i < row.size() ? row[i] : std::string();
            const std::string pad(width[i] - cell.size(), ' ');
            const bool right = !header && i < table.right_aligned.size() && table.right_aligned[i];
            if (i > 0) {
                line += "  ";
            }
            line += right ? pad + cell : cell + pad;
        }
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
        out += line;
        out += '\n';
    };
    emit(table.header, true);
    for (const auto& row : table.rows) {
        emit(row, false);
    }
    return out;
}

Table connections_table(const std::vector<client::Fields>& streams) {
    Table t;
    t.header = {"ID", "STATE", "LOCAL", "REMOTE", "RTT(ms)", "RTO(ms)", "CWND", "IN-FLIGHT", "RETRANS", "SEND-Q",
                "RECV-Q"};
    t.right_aligned = {true, false, false, false, true, true, true, true, true, true, true};
    for (const auto& f : streams) {
        t.rows.push_back({field_or_dash(f, "id"), field_or_dash(f, "state"), field_or_dash(f, "local"),
                          field_or_dash(f, "remote"), us_as_ms(f, "srtt_us"), field_or_dash(f, "rto_ms"),
                          field_or_dash(f, "cwnd"), field_or_dash(f, "in_flight"), field_or_dash(f, "retransmissions"),
                          field_or_dash(f, "send_queued"), field_or_dash(f, "recv_queued")});
    }
    return t;
}

}  // namespace tapstack::cli
