// OutcomeTable (daemon/api/outcome_table.hpp): STATUS answers from a
// bounded table of recent stream outcomes.
#include <doctest/doctest.h>

#include "daemon/api/outcome_table.hpp"

using tapstack::client::Outcome;
using tapstack::daemon::api::OutcomeTable;

TEST_CASE("a recorded outcome is found by id with its owner's uid; an unknown id is not") {
    OutcomeTable t(4);
    t.record(1, 0, Outcome::kOrderly, "closed");
    t.record(2, 65534, Outcome::kReset, "connection reset");
    auto e = t.find(2);
    REQUIRE(e.has_value());
    CHECK(e->uid == 65534);
    CHECK(t.find(1)->uid == 0);
    CHECK(e->outcome == Outcome::kReset);
    CHECK(e->detail == "connection reset");
    CHECK(t.find(1)->outcome == Outcome::kOrderly);
    CHECK_FALSE(t.find(3).has_value());
}

TEST_CASE("the table is bounded: the oldest outcomes are forgotten first") {
    OutcomeTable t(3);
    for (std::uint64_t id = 1; id <= 10; ++id) {
        t.record(id, 1000, id % 2 ? Outcome::kTimedOut : Outcome::kOrderly, "x");
        CHECK(t.size() <= 3);
    }
    CHECK(t.size() == 3);
    CHECK_FALSE(t.find(7).has_value());
    CHECK(t.find(8)->outcome == Outcome::kOrderly);
    CHECK(t.find(9)->outcome == Outcome::kTimedOut);
    CHECK(t.find(10).has_value());
}

TEST_CASE("a zero capacity still keeps the latest outcome") {
    OutcomeTable t(0);
    t.record(5, 1000, Outcome::kAborted, "gone");
    CHECK(t.find(5)->outcome == Outcome::kAborted);
}
