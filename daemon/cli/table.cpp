// Aligned text tables for the tapstack command; see table.hpp.
#include "daemon/cli/table.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <ctime>
#include <utility>

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

std::string uptime_text(std::uint64_t seconds) {
    const std::uint64_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, sec = seconds % 60;
    auto two = [](std::uint64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h " + two(m) + "m " + two(sec) + "s";
    if (h > 0) return std::to_string(h) + "h " + two(m) + "m " + two(sec) + "s";
    if (m > 0) return std::to_string(m) + "m " + two(sec) + "s";
    return std::to_string(sec) + "s";
}

std::string status_text(const client::Fields& daemon) {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& [key, value] : daemon) {
        std::uint64_t n = 0;
        const bool number = !value.empty() &&
                            std::from_chars(value.data(), value.data() + value.size(), n).ptr == value.data() + value.size();
        if (key == "uptime_s" && number) {
            lines.emplace_back("uptime", uptime_text(n));
        } else if (key == "start_time" && number) {
            const auto t = static_cast<std::time_t>(n);
            std::tm utc{};
            char text[32] = "-";
            if (::gmtime_r(&t, &utc) != nullptr) std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
            lines.emplace_back("started", text);
        } else {
            lines.emplace_back(key, value);
        }
    }
    std::size_t width = 0;
    for (const auto& l : lines) width = std::max(width, l.first.size());
    std::string out;
    for (const auto& [name, value] : lines) {
        out += name + std::string(width - name.size() + 2, ' ') + value + "\n";
    }
    return out;
}

}  // namespace tapstack::cli
