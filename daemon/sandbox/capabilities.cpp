// Dropping every capability with libcap-ng (sandbox.hpp, step 1).
//
// Theory of operation: libcap-ng reads the process's sets, we clear them
// all and apply. The bounding set can only shrink while CAP_SETPCAP is
// effective, so it is part of the apply only then (and it must go first,
// while CAP_SETPCAP is still held; capng_apply does bounds before the other
// sets). Lowering permitted and inheritable clears the ambient set too, and
// it is named in the apply anyway. Afterwards /proc/self/status is the
// judge: CapInh, CapPrm, CapEff and CapAmb must all read 0, exactly what an
// administrator sees with `grep Cap /proc/PID/status`.
#include <cap-ng.h>
#include <linux/capability.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "daemon/sandbox/sandbox.hpp"

namespace tapstack::daemon {
namespace {

// The Cap* lines of /proc/self/status as numbers ("CapEff" -> mask).
struct CapSets {
    std::uint64_t inh = ~0ull, prm = ~0ull, eff = ~0ull, bnd = ~0ull, amb = ~0ull;
};

bool read_cap_sets(CapSets* out) {
    std::ifstream in("/proc/self/status");
    if (!in) return false;
    std::string line;
    int found = 0;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || line.compare(0, 3, "Cap") != 0) continue;
        const std::string name = line.substr(0, colon);
        const std::uint64_t value = std::strtoull(line.c_str() + colon + 1, nullptr, 16);
        std::uint64_t* slot = name == "CapInh"   ? &out->inh
                              : name == "CapPrm" ? &out->prm
                              : name == "CapEff" ? &out->eff
                              : name == "CapBnd" ? &out->bnd
                              : name == "CapAmb" ? &out->amb
                                                 : nullptr;
        if (slot != nullptr) {
            *slot = value;
            ++found;
        }
    }
    return found == 5;
}

// "cap_net_admin, cap_net_raw" for the permitted set, "all 41
// capabilities" when it is full (root), or "" for none.
std::string permitted_names() {
    std::string out;
    unsigned count = 0;
    for (unsigned cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        if (capng_have_capability(CAPNG_PERMITTED, cap) == 0) continue;
        const char* name = capng_capability_to_name(cap);
        if (!out.empty()) out += ", ";
        out += std::string("cap_") + (name != nullptr ? name : std::to_string(cap).c_str());
        ++count;
    }
    if (count == CAP_LAST_CAP + 1) return "all " + std::to_string(count) + " capabilities";
    return out;
}

}  // namespace

bool drop_capabilities(std::string* summary, std::string* error) {
    if (capng_get_caps_process() != 0) {
        *error = "capabilities: cannot read this process's capabilities";
        return false;
    }
    const std::string held = permitted_names();
    const bool may_shrink_bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) != 0;
    capng_clear(CAPNG_SELECT_ALL);
    const auto sets = static_cast<capng_select_t>(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT |
                                                  (may_shrink_bounding ? CAPNG_SELECT_BOUNDS : 0));
    if (const int rc = capng_apply(sets); rc != 0) {
        *error = "capabilities: cannot drop them (capng_apply returned " + std::to_string(rc) + ")";
        return false;
    }
    CapSets now;
    if (!read_cap_sets(&now)) {
        *error = "capabilities: cannot read the Cap* lines of /proc/self/status to check the drop";
        return false;
    }
    if (now.inh != 0 || now.prm != 0 || now.eff != 0 || now.amb != 0 ||
        (may_shrink_bounding && now.bnd != 0)) {
        *error = "capabilities: still held after the drop (/proc/self/status: CapEff " + std::to_string(now.eff) +
                 ", CapPrm " + std::to_string(now.prm) + ", CapBnd " + std::to_string(now.bnd) + ")";
        return false;
    }
    std::string line = held.empty() ? "capabilities: none held" : "capabilities: dropped " + held;
    line += " (CapEff, CapPrm, CapInh and CapAmb are 0); ";
    line += may_shrink_bounding ? "bounding set emptied"
                                : "bounding set left as it is (no CAP_SETPCAP to change it; no_new_privs makes it "
                                  "unusable)";
    *summary = line;
    return true;
}

}  // namespace tapstack::daemon
