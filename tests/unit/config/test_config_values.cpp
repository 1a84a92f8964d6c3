// The scalar parsers behind tapstack.yaml: exact acceptance, no partial
// matches, no overflow.
#include <doctest/doctest.h>

#include "daemon/config_values.hpp"

using namespace tapstack::daemon;
using namespace std::chrono_literals;

TEST_CASE("parse_uint accepts plain decimals inside the range only") {
    CHECK(parse_uint("0", 0, 10) == 0u);
    CHECK(parse_uint("10", 0, 10) == 10u);
    CHECK_FALSE(parse_uint("11", 0, 10));
    CHECK_FALSE(parse_uint("", 0, 10));
    CHECK_FALSE(parse_uint("+1", 0, 10));
    CHECK_FALSE(parse_uint("1 ", 0, 10));
    CHECK_FALSE(parse_uint("0x1", 0, 10));
    CHECK_FALSE(parse_uint("99999999999999999999999", 0, ~0ull));
}

TEST_CASE("parse_size: bytes and binary suffixes, nothing else") {
    CHECK(parse_size("4096") == 4096u);
    CHECK(parse_size("64KiB") == 65536u);
    CHECK(parse_size("4MiB") == 4u << 20);
    CHECK(parse_size("1GiB") == 1u << 30);
    CHECK_FALSE(parse_size("64K"));
    CHECK_FALSE(parse_size("64kib"));
    CHECK_FALSE(parse_size("KiB"));
    CHECK_FALSE(parse_size("-1"));
    CHECK_FALSE(parse_size("9999999999999999999GiB"));  // would overflow 64 bits
}

TEST_CASE("parse_duration needs a unit and stays within a day") {
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("30s") == 30s);
    CHECK(parse_duration("2m") == 120s);
    CHECK_FALSE(parse_duration("30"));
    CHECK_FALSE(parse_duration("1h"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("1.5s"));
    CHECK_FALSE(parse_duration("99999999999m"));
}

TEST_CASE("parse_port_range: LOW-HIGH with 1 <= LOW <= HIGH <= 65535") {
    CHECK(parse_port_range("49152-65535") == std::pair<std::uint16_t, std::uint16_t>{49152, 65535});
    CHECK(parse_port_range("7-7") == std::pair<std::uint16_t, std::uint16_t>{7, 7});
    CHECK_FALSE(parse_port_range("0-10"));
    CHECK_FALSE(parse_port_range("10-65536"));
    CHECK_FALSE(parse_port_range("20-10"));
    CHECK_FALSE(parse_port_range("20"));
    CHECK_FALSE(parse_port_range("20-"));
}

TEST_CASE("parse_mode: octal up to 0777") {
    CHECK(parse_mode("0660") == 0660u);
    CHECK(parse_mode("600") == 0600u);
    CHECK_FALSE(parse_mode("0888"));
    CHECK_FALSE(parse_mode("01777"));
    CHECK_FALSE(parse_mode(""));
}

TEST_CASE("parse_percent: 0..100 with up to 6 decimals") {
    CHECK(parse_percent("0") == 0.0);
    CHECK(parse_percent("100") == 100.0);
    CHECK(*parse_percent("1.5") == doctest::Approx(1.5));
    CHECK(*parse_percent("0.000001") == doctest::Approx(0.000001));
    CHECK_FALSE(parse_percent("100.5"));
    CHECK_FALSE(parse_percent("1000"));
    CHECK_FALSE(parse_percent("1."));
    CHECK_FALSE(parse_percent(".5"));
    CHECK_FALSE(parse_percent("1.5%"));
    CHECK_FALSE(parse_percent("-1"));
    CHECK_FALSE(parse_percent("0.0000001"));
}

TEST_CASE("parse_bool: true and false only") {
    CHECK(parse_bool("true") == true);
    CHECK(parse_bool("false") == false);
    CHECK_FALSE(parse_bool("yes"));
    CHECK_FALSE(parse_bool("True"));
}

TEST_CASE("valid_interface_name follows the kernel's dev_valid_name") {
    CHECK(valid_interface_name("tap0"));
    CHECK(valid_interface_name("123456789012345"));
    CHECK_FALSE(valid_interface_name("1234567890123456"));
    CHECK_FALSE(valid_interface_name(""));
    CHECK_FALSE(valid_interface_name("."));
    CHECK_FALSE(valid_interface_name(".."));
    CHECK_FALSE(valid_interface_name("a/b"));
    CHECK_FALSE(valid_interface_name("a:b"));
    CHECK_FALSE(valid_interface_name("a b"));
}
