// UserTable and RefusalLog (daemon/api/user_table.hpp): per-user limits of
// the API (clients, listeners, memory), the exemption of root and the
// daemon's own uid, and the rate limit of refusal log lines.
#include <doctest/doctest.h>

#include "daemon/api/user_table.hpp"

using tapstack::daemon::UserLimits;
using tapstack::daemon::api::LimitHit;
using tapstack::daemon::api::limit_key;
using tapstack::daemon::api::RefusalLog;
using tapstack::daemon::api::UserTable;

namespace {
constexpr std::uint32_t kDaemonUid = 998;
constexpr std::uint32_t kAlice = 1000;
constexpr std::uint32_t kBob = 1001;

UserLimits limits(std::uint32_t clients, std::uint32_t listeners, std::uint64_t memory) {
    UserLimits l;
    l.max_clients = clients;
    l.max_listeners = listeners;
    l.max_memory = memory;
    return l;
}
}  // namespace

TEST_CASE("max_clients_per_user: the client beyond the limit is refused and not counted; others are unaffected") {
    UserTable t(kDaemonUid);
    const auto lim = limits(2, 10, 1 << 20);
    CHECK(t.add_client(kAlice, 1, lim) == LimitHit::kNone);
    CHECK(t.add_client(kAlice, 2, lim) == LimitHit::kNone);
    CHECK(t.add_client(kAlice, 3, lim) == LimitHit::kClients);
    CHECK(t.clients(kAlice) == 2);
    CHECK(t.add_client(kBob, 4, lim) == LimitHit::kNone);  // Alice's use does not count against Bob
    t.remove_client(kAlice, 1);
    CHECK(t.add_client(kAlice, 5, lim) == LimitHit::kNone);  // a freed slot is usable again
    CHECK(t.add_client(kAlice, 6, lim) == LimitHit::kClients);
    REQUIRE(t.client_keys(kAlice) != nullptr);
    CHECK(t.client_keys(kAlice)->count(2) == 1);
    CHECK(t.client_keys(kAlice)->count(5) == 1);
    CHECK(t.client_keys(kAlice)->count(1) == 0);
}

TEST_CASE("root and the daemon's own uid are counted but never refused") {
    UserTable t(kDaemonUid);
    const auto lim = limits(1, 1, 1);
    CHECK(t.privileged(0));
    CHECK(t.privileged(kDaemonUid));
    CHECK_FALSE(t.privileged(kAlice));
    for (std::uint64_t k = 1; k <= 5; ++k) {
        CHECK(t.add_client(0, k, lim) == LimitHit::kNone);
        CHECK(t.add_client(kDaemonUid, 100 + k, lim) == LimitHit::kNone);
        CHECK(t.add_listener(0, lim) == LimitHit::kNone);
    }
    CHECK(t.clients(0) == 5);
    CHECK(t.listeners(0) == 5);
    CHECK(t.check_memory(0, 1 << 30, 1 << 30, lim) == LimitHit::kNone);
    CHECK(t.check_memory(kAlice, 0, 2, lim) == LimitHit::kMemory);
}

TEST_CASE("max_listeners_per_user: one user cannot hold more ports than its share") {
    UserTable t(kDaemonUid);
    const auto lim = limits(100, 3, 1 << 20);
    for (int i = 0; i < 3; ++i) CHECK(t.add_listener(kAlice, lim) == LimitHit::kNone);
    CHECK(t.add_listener(kAlice, lim) == LimitHit::kListeners);
    CHECK(t.listeners(kAlice) == 3);
    CHECK(t.add_listener(kBob, lim) == LimitHit::kNone);
    t.remove_listener(kAlice);
    CHECK(t.add_listener(kAlice, lim) == LimitHit::kNone);  // a released port frees a slot
    CHECK(t.add_listener(kAlice, lim) == LimitHit::kListeners);
    t.remove_listener(kBob);
    t.remove_listener(kBob);  // one too many: harmless
    CHECK(t.listeners(kBob) == 0);
}

TEST_CASE("max_memory_per_user: refused only when what is held plus the new stream exceeds the share") {
    UserTable t(kDaemonUid);
    const auto lim = limits(100, 100, 1000);
    CHECK(t.check_memory(kAlice, 0, 1000, lim) == LimitHit::kNone);   // exactly the share
    CHECK(t.check_memory(kAlice, 1, 1000, lim) == LimitHit::kMemory);
    CHECK(t.check_memory(kAlice, 600, 400, lim) == LimitHit::kNone);
    CHECK(t.check_memory(kAlice, 600, 401, lim) == LimitHit::kMemory);
}

TEST_CASE("limits are read at each call: a changed limit applies at once, admitted clients stay") {
    UserTable t(kDaemonUid);
    CHECK(t.add_client(kAlice, 1, limits(3, 1, 1)) == LimitHit::kNone);
    CHECK(t.add_client(kAlice, 2, limits(3, 1, 1)) == LimitHit::kNone);
    CHECK(t.add_client(kAlice, 3, limits(1, 1, 1)) == LimitHit::kClients);  // lowered: refused
    CHECK(t.clients(kAlice) == 2);                                          // nobody thrown out
    CHECK(t.add_client(kAlice, 3, limits(5, 1, 1)) == LimitHit::kNone);     // raised: admitted
}

TEST_CASE("a user with nothing left is forgotten, so the table does not grow with every uid ever seen") {
    UserTable t(kDaemonUid);
    const auto lim = limits(10, 10, 10);
    for (std::uint32_t uid = 2000; uid < 2100; ++uid) {
        REQUIRE(t.add_client(uid, uid, lim) == LimitHit::kNone);
        REQUIRE(t.add_listener(uid, lim) == LimitHit::kNone);
    }
    CHECK(t.users() == 100);
    for (std::uint32_t uid = 2000; uid < 2100; ++uid) {
        t.remove_client(uid, uid);
        t.remove_listener(uid);
    }
    CHECK(t.users() == 0);
    CHECK(t.client_keys(2000) == nullptr);
}

TEST_CASE("limit keys name the config keys") {
    CHECK(limit_key(LimitHit::kClients) == "api.max_clients_per_user");
    CHECK(limit_key(LimitHit::kListeners) == "api.max_listeners_per_user");
    CHECK(limit_key(LimitHit::kMemory) == "api.max_memory_per_user");
}

TEST_CASE("refusal log: one line per uid per interval, the next line counts the suppressed ones") {
    RefusalLog log(10000);
    CHECK(log.note(kAlice, 1000) == 0u);        // first refusal: logged
    CHECK_FALSE(log.note(kAlice, 1001).has_value());
    CHECK_FALSE(log.note(kAlice, 5000).has_value());
    CHECK(log.note(kBob, 5000) == 0u);          // another uid has its own budget
    CHECK_FALSE(log.note(kAlice, 10999).has_value());
    CHECK(log.note(kAlice, 11000) == 3u);       // interval over: logged, 3 were suppressed
    CHECK_FALSE(log.note(kAlice, 11001).has_value());
    CHECK(log.note(kAlice, 30000) == 1u);
    CHECK(log.note(kAlice, 50000) == 0u);
}

TEST_CASE("refusal log: many uids cannot grow it past its bound, and none is silenced for good") {
    RefusalLog log(10000);
    for (std::uint32_t uid = 0; uid < RefusalLog::kMaxTracked + 100; ++uid) {
        CHECK(log.note(10000 + uid, 0).has_value());  // each uid's first refusal is logged
    }
    CHECK(log.tracked() <= RefusalLog::kMaxTracked);
    // Once the interval passed, stale entries make room again.
    CHECK(log.note(99999999, 20000) == 0u);
    CHECK(log.tracked() <= RefusalLog::kMaxTracked);
}
