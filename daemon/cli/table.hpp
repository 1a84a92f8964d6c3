// Text tables for the `tapstack` command: `connections` (alias `ss`)
// prints the daemon's `key=value` lines (daemon/api/PROTOCOL.md) as
// aligned columns for people. Scripts should read the API's fields instead;
// the columns here may change.
//
// Pure functions on strings, unit-tested without a daemon.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/client/client.hpp"

namespace tapstack::cli {

struct Table {
    std::vector<std::string> header;
    std::vector<bool> right_aligned;  // per column; numbers read best right-aligned
    std::vector<std::vector<std::string>> rows;
};

// Every column as wide as its widest cell, two spaces between columns, no
// trailing blanks, one "\n" per line; the header first. A row shorter than
// the header is padded with empty cells, longer rows are cut.
std::string render(const Table& table);

// `tapstack connections`: one row per live stream with ID, STATE, LOCAL,
// REMOTE, RTT(ms), RTO(ms), CWND, IN-FLIGHT, RETRANS, SEND-Q, RECV-Q. A
// field the daemon did not send shows as "-", and so does RTT before the
// first RTT sample (srtt_us=0).
Table connections_table(const std::vector<client::Fields>& streams);

// `tapstack status`: the daemon's DAEMON fields as aligned "name  value"
// lines, uptime_s spelled out ("2d 3h 04m 05s") and start_time as UTC.
std::string status_text(const client::Fields& daemon);
// 3725 -> "1h 02m 05s"; 59 -> "59s".
std::string uptime_text(std::uint64_t seconds);

}  // namespace tapstack::cli
