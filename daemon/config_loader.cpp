// Loading tapstack.yaml: YAML -> Config, collecting every error.
//
// Theory of operation: the document is walked section by section. Each
// section is a table of Fields (name, required?, how to apply the value);
// keys not in the table are "unknown key" errors, repeated keys are
// "duplicate key" errors (yaml-cpp 0.7 keeps both pairs, so we see them while
// iterating). A value that fails to parse leaves the default in place and
// adds one error; walking continues so the user sees every problem at once.
// Cross-field checks (gateway inside the subnet, host address beside ours,
// for both families,
// RTO ordering, the auto-tuning ceiling above the receive buffer) run last,
// and only on fields that parsed, so one typo does not cascade into several
// messages.
//
// Message shape, relied on by tests and users:
//   FILE:LINE:COL: KEY: "VALUE" is not WHAT (allowed: ...)
// with 1-based LINE/COL of the value (of the key for unknown/duplicate keys).
#include <grp.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "daemon/config_values.hpp"
#include "daemon/connect_rules.hpp"
#include "stack/tcp/tcp_stack.hpp"

namespace tapstack::daemon {
namespace {

using Apply = std::function<void(const YAML::Node& value, const YAML::Mark& mark, const std::string& key)>;

struct Field {
    std::string_view name;
    bool required;
    std::string_view what_if_missing;  // for the "missing" message
    Apply apply;
};

std::string join_names(const std::vector<Field>& fields) {
    std::string out;
    for (const auto& f : fields) {
        if (!out.empty()) out += ", ";
        out += f.name;
    }
    return out;
}

// Names tcp::is_known_congestion_control accepts, for the "allowed" list
// (a unit test checks each against the stack).
constexpr std::string_view kCongestionControls[] = {"cubic", "newreno"};

constexpr std::string_view kMemoryMaxAllowed =
    "0 for no limit, or bytes from 1MiB to 1024GiB, optionally with KiB, MiB or GiB, e.g. 512MiB";

// tcp.syncookies values, in TcpConfig::SynCookieMode order.
constexpr std::string_view kSynCookieModes[] = {"off", "on-overflow", "always"};

constexpr std::string_view kReceiveBufferMaxAllowed =
    "0 to turn auto-tuning off, or bytes from 4KiB to 1GiB, optionally with KiB, MiB or GiB, e.g. 4MiB";

bool mark_known(const YAML::Mark& m) { return m.line >= 0 && m.column >= 0; }

// A group by name (the group database) or by number.
std::optional<std::uint32_t> resolve_group(const std::string& text) {
    if (auto gid = parse_uint(text, 0, 4294967294u)) return static_cast<std::uint32_t>(*gid);
    std::vector<char> buf(16384);
    group g{};
    group* found = nullptr;
    while (::getgrnam_r(text.c_str(), &g, buf.data(), buf.size(), &found) == ERANGE && buf.size() < (1u << 20)) {
        buf.resize(buf.size() * 2);
    }
    if (found == nullptr) return std::nullopt;
    return static_cast<std::uint32_t>(found->gr_gid);
}

// How a value appears in a message: scalars quoted, others by kind.
std::string describe(const YAML::Node& v) {
    switch (v.Type()) {
    case YAML::NodeType::Scalar: {
        std::string out = "\"";
        for (char c : v.Scalar()) {
            if (c == '"' || c == '\\') out += '\\';
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            } else {
                out += c;
            }
        }
        return out + "\"";
    }
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "an empty value";
    case YAML::NodeType::Undefined: break;
    }
    return "an undefined value";
}

std::string duration_text(Duration d) {
    const auto ms = std::chrono::duration_cast<milliseconds>(d).count();
    if (ms % 60000 == 0 && ms > 60000) return std::to_string(ms / 60000) + "m";
    if (ms % 1000 == 0 && ms >= 1000) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string size_text(std::uint64_t bytes) {
    if (bytes >= (1u << 30) && bytes % (1u << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes);
}

// A host address on an interface: not the network or broadcast address of
// its subnet (unless /31, RFC 3021), not 0/8, loopback, multicast or class E.
bool usable_host(const wire::Ipv4Cidr& c) {
    const auto a = c.address;
    if ((a.value >> 24) == 0 || a.is_loopback() || a.is_multicast() || (a.value >> 28) == 0xf) return false;
    if (c.prefix_len <= 30 && (a == c.network() || a == c.broadcast())) return false;
    return true;
}

// Records where each YAML document of a stream starts, nothing else.
//
// yaml-cpp 0.7's LoadAll() never returns on some malformed streams (a
// leading ',' is enough): its parser keeps reporting another empty document
// without consuming input (yaml-cpp issue 1040, fixed upstream in 0.8.1).
// So the loader walks the documents itself with this handler and stops at
// the second one, which is an error for tapstack anyway, and then loads the
// first with YAML::Load(), which parses one document only.
class DocumentStarts : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

class Loader {
public:
    explicit Loader(std::string_view file) : file_(file) {}

    ConfigResult load_text(std::string_view text) {
        const std::string owned(text);
        DocumentStarts documents;
        YAML::Node first;
        try {
            std::istringstream in(owned);
            YAML::Parser parser(in);
            while (documents.starts.size() < 2 && parser.HandleNextDocument(documents)) {
            }
            if (documents.starts.size() >= 2 && documents.starts[1].pos == documents.starts[0].pos) {
                // No progress between two documents: the stream is malformed
                // in a way yaml-cpp reports as endless empty documents.
                error(documents.starts[1], "YAML syntax error: unexpected character");
                return finish();
            }
            first = YAML::Load(owned);
        } catch (const YAML::ParserException& e) {
            error(e.mark, "YAML syntax error: " + e.msg);
            return finish();
        } catch (const YAML::Exception& e) {
            error(e.mark, std::string("YAML error: ") + e.what());
            return finish();
        }
        if (documents.starts.empty() || !first || first.IsNull()) {
            error(YAML::Mark(), "the file has no settings (expected a mapping with sections "
                                "interface, ipv4, ipv6, arp, nd, tcp, api, log, fault_injection, security)");
            return finish();
        }
        if (documents.starts.size() > 1) {
            error(documents.starts[1], "a second YAML document is not allowed (allowed: one document)");
        }
        root(first);
        return finish();
    }

    void error(const YAML::Mark& m, const std::string& msg) {
        std::string where = file_;
        if (mark_known(m)) {
            where += ':' + std::to_string(m.line + 1) + ':' + std::to_string(m.column + 1);
        } else {
            where += ":1:1";
        }
        errors_.push_back(where + ": " + msg);
    }

    ConfigResult finish() { return ConfigResult{std::move(cfg_), std::move(errors_)}; }

private:
    std::string file_;
    Config cfg_ = default_config();
    std::vector<std::string> errors_;
    // Set when the value parsed, for cross-field checks.
    std::optional<wire::Ipv4Cidr> address_;
    std::optional<YAML::Mark> gateway_mark_, host_mark_, rto_mark_, fault_mark_, receive_buffer_max_mark_;
    std::optional<YAML::Mark> socks_mark_;  // api.socks_socket was given
    std::vector<YAML::Mark> address6_marks_;  // one per entry of ipv6.address, in order
    std::optional<YAML::Mark> gateway6_mark_, host6_mark_;
    bool receive_buffer_bad_ = false;

    void bad(const YAML::Node& v, const YAML::Mark& m, const std::string& key, std::string_view what,
             std::string_view allowed) {
        std::string msg = key + ": " + describe(v) + " is not " + std::string(what);
        if (!allowed.empty()) msg += " (allowed: " + std::string(allowed) + ")";
        error(m, msg);
    }

    // The scalar text, or an error naming what was expected.
    std::optional<std::string> scalar(const YAML::Node& v, const YAML::Mark& m, const std::string& key,
                                      std::string_view what, std::string_view allowed) {
        if (!v.IsScalar()) {
            bad(v, m, key, what, allowed);
            return std::nullopt;
        }
        return v.Scalar();
    }

    // Walks one mapping against its field table.
    void section(const YAML::Node& node, const YAML::Mark& mark, const std::string& path,
                 const std::vector<Field>& fields) {
        const std::string label = path.empty() ? "top level" : path;
        if (!node.IsMap()) {
            bad(node, mark, label, "a mapping", "keys " + join_names(fields));
            return;
        }
        std::vector<std::pair<std::string, YAML::Mark>> seen;
        for (const auto& kv : node) {
            const YAML::Node& k = kv.first;
            const YAML::Node& v = kv.second;
            if (!k.IsScalar()) {
                bad(k, k.Mark(), label, "a key", "keys " + join_names(fields));
                continue;
            }
            const std::string name = k.Scalar();
            const std::string key = path.empty() ? name : path + "." + name;
            bool duplicate = false;
            for (const auto& [prev, prev_mark] : seen) {
                if (prev == name) {
                    error(k.Mark(), key + ": duplicate key (first given at line " +
                                        std::to_string(prev_mark.line + 1) + ")");
                    duplicate = true;
                }
            }
            if (duplicate) continue;
            seen.emplace_back(name, k.Mark());
            const Field* field = nullptr;
            for (const auto& f : fields) {
                if (f.name == name) field = &f;
            }
            if (field == nullptr) {
                error(k.Mark(), key + ": unknown key (allowed: " + join_names(fields) + ")");
                continue;
            }
            // An empty value's mark points past it (the next line); name the key instead.
            const YAML::Mark vm = (v.IsNull() || !mark_known(v.Mark())) ? k.Mark() : v.Mark();
            field->apply(v, vm, key);
        }
        for (const auto& f : fields) {
            if (!f.required) continue;
            bool present = false;
            for (const auto& s : seen) present = present || s.first == f.name;
            if (!present) {
                const std::string key = path.empty() ? std::string(f.name) : path + "." + std::string(f.name);
                error(mark, key + ": missing (required: " + std::string(f.what_if_missing) + ")");
            }
        }
    }

    // ---- value kinds ---------------------------------------------------

    template <typename T>
    Apply uint_field(T& out, std::uint64_t min, std::uint64_t max, std::string_view what = "an integer") {
        return [this, &out, min, max, what](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            const std::string allowed = std::to_string(min) + ".." + std::to_string(max);
            auto s = scalar(v, m, key, what, allowed);
            if (!s) return;
            auto n = parse_uint(*s, min, max);
            if (!n) return bad(v, m, key, what, allowed);
            out = static_cast<T>(*n);
        };
    }

    Apply size_field(std::uint32_t& out, std::uint64_t min, std::uint64_t max) {
        return [this, &out, min, max](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            const std::string allowed = "bytes from " + size_text(min) + " to " + size_text(max) +
                                        ", optionally with KiB, MiB or GiB, e.g. 256KiB";
            auto s = scalar(v, m, key, "a size", allowed);
            if (!s) return;
            auto n = parse_size(*s);
            if (!n || *n < min || *n > max) return bad(v, m, key, "a size", allowed);
            out = static_cast<std::uint32_t>(*n);
        };
    }

    Apply duration_field(Duration& out, Duration min, Duration max) {
        return [this, &out, min, max](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            const std::string allowed =
                "from " + duration_text(min) + " to " + duration_text(max) + " with unit ms, s or m, e.g. 30s";
            auto s = scalar(v, m, key, "a duration", allowed);
            if (!s) return;
            auto d = parse_duration(*s);
            if (!d || *d < min || *d > max) return bad(v, m, key, "a duration", allowed);
            out = *d;
        };
    }

    Apply bool_field(bool& out) {
        return [this, &out](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            auto s = scalar(v, m, key, "a boolean", "true, false");
            if (!s) return;
            auto b = parse_bool(*s);
            if (!b) return bad(v, m, key, "a boolean", "true, false");
            out = *b;
        };
    }

    Apply cidr_field(std::optional<wire::Ipv4Cidr>& out, std::optional<YAML::Mark>* mark_out) {
        return [this, &out, mark_out](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            constexpr std::string_view what = "an IPv4 address with prefix length";
            auto s = scalar(v, m, key, what, "");
            if (!s) return;
            auto c = wire::Ipv4Cidr::parse(*s);
            if (!c) return bad(v, m, key, what, "");
            if (c->prefix_len < 1 || c->prefix_len > 31) {
                return bad(v, m, key, "an IPv4 address with a usable prefix length", "/1 to /31");
            }
            if (!usable_host(*c)) {
                return bad(v, m, key, "a usable host address",
                           "not the subnet's network or broadcast address, not 0.0.0.0/8, 127.0.0.0/8, "
                           "multicast or 240.0.0.0/4");
            }
            out = *c;
            if (mark_out != nullptr) *mark_out = m;
        };
    }

    // A list of connect rules; an empty value is an empty list.
    Apply connect_rules_field(std::vector<ConnectRule>& out) {
        return [this, &out](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            if (v.IsNull()) {
                out.clear();
                return;
            }
            if (!v.IsSequence()) {
                return bad(v, m, key, "a list of connect rules", "[" + std::string(kConnectRuleSyntax) + ", ...]");
            }
            std::vector<ConnectRule> rules;
            bool ok = true;
            std::size_t i = 0;
            for (const auto& item : v) {
                const std::string item_key = key + "[" + std::to_string(i++) + "]";
                const YAML::Mark im = mark_known(item.Mark()) ? item.Mark() : m;
                auto s = scalar(item, im, item_key, "a connect rule", kConnectRuleSyntax);
                if (!s) {
                    ok = false;
                    continue;
                }
                auto parsed = parse_connect_rule(*s);
                if (auto* why = std::get_if<std::string>(&parsed)) {
                    bad(item, im, item_key, "a connect rule: " + *why, kConnectRuleSyntax);
                    ok = false;
                    continue;
                }
                rules.push_back(std::get<ConnectRule>(std::move(parsed)));
            }
            if (ok) out = std::move(rules);
        };
    }

    // ---- sections ------------------------------------------------------

    void root(const YAML::Node& doc) {
        section(doc, doc.Mark(), "",
                {
                    {"interface", true, "a mapping with name and the other interface keys",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { interface(v, m, k); }},
                    {"ipv4", true, "a mapping with address and the other ipv4 keys",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { ipv4(v, m, k); }},
                    {"ipv6", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { ipv6(v, m, k); }},
                    {"arp", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { arp(v, m, k); }},
                    {"nd", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { nd(v, m, k); }},
                    {"tcp", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { tcp(v, m, k); }},
                    {"api", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { api(v, m, k); }},
                    {"log", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { log(v, m, k); }},
                    {"fault_injection", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { fault(v, m, k); }},
                    {"security", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& k) { security(v, m, k); }},
                });
        cross_checks();
    }

    void interface(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& tap = cfg_.tap;
        section(node, mark, path,
                {
                    {"name", true, "a Linux interface name, e.g. tap0",
                     [this, &tap](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a Linux interface name";
                         constexpr std::string_view allowed = "1 to 15 characters, no '/', ':', ',' or spaces";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         if (!valid_interface_name(*s)) return bad(v, m, key, what, allowed);
                         tap.name = *s;
                     }},
                    {"mtu", false, "", uint_field(tap.mtu, 576, 65520, "an MTU")},
                    {"mac", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view allowed = "six hex bytes, e.g. 02:00:00:00:00:02";
                         auto s = scalar(v, m, key, "a MAC address", allowed);
                         if (!s) return;
                         auto mac = wire::MacAddress::parse(*s);
                         if (!mac) return bad(v, m, key, "a MAC address", allowed);
                         if (mac->is_multicast() || mac->is_zero()) {
                             return bad(v, m, key, "a unicast MAC address",
                                        "first byte even and not all zero, e.g. 02:00:00:00:00:02");
                         }
                         cfg_.iface.mac = *mac;
                         cfg_.mac_configured = true;
                     }},
                    {"host_address", false, "", cidr_field(tap.host_address, &host_mark_)},
                    {"host_address6", false, "",
                     [this, &tap](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         if (auto c = cidr6_value(v, m, key)) {
                             tap.host_address6 = *c;
                             host6_mark_ = m;
                         }
                     }},
                    {"queue_size", false, "",
                     [this, &tap](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a virtqueue size";
                         constexpr std::string_view allowed = "a power of two from 16 to 32768";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         auto n = parse_uint(*s, 16, 32768);
                         if (!n || (*n & (*n - 1)) != 0) return bad(v, m, key, what, allowed);
                         tap.queue_size = static_cast<std::uint16_t>(*n);
                     }},
                    {"rx_budget", false, "", uint_field(tap.rx_budget, 1, 65536)},
                    {"offloads", false, "", bool_field(tap.offloads)},
                });
    }

    void ipv4(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& ifc = cfg_.iface;
        section(node, mark, path,
                {
                    {"address", true, "an IPv4 address with prefix length, e.g. 198.19.77.2/24",
                     cidr_field(address_, nullptr)},
                    {"gateway", false, "",
                     [this, &ifc](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         auto s = scalar(v, m, key, "an IPv4 address", "");
                         if (!s) return;
                         auto a = wire::Ipv4Address::parse(*s);
                         if (!a) return bad(v, m, key, "an IPv4 address", "");
                         ifc.gateway = *a;
                         gateway_mark_ = m;
                     }},
                    {"ttl", false, "", uint_field(ifc.ttl, 1, 255)},
                    {"reassembly_timeout", false, "", duration_field(ifc.reassembly_timeout, seconds(1), seconds(120))},
                    {"reassembly_max_bytes", false, "", size_field(ifc.reassembly_max_bytes, 64 * 1024, 1u << 30)},
                    {"reassembly_max_datagrams", false, "", uint_field(ifc.reassembly_max_datagrams, 1, 65536)},
                    {"icmp_error_rate", false, "", uint_field(ifc.icmp_error_rate_per_sec, 0, 100000)},
                });
    }

    // One "address/prefix" of ipv6.address or interface.host_address6: a
    // unicast address a host may hold (RFC 4291 2.5), prefix /1../128; the
    // link-local address is not configured (it is derived from the MAC).
    std::optional<wire::Ipv6Cidr> cidr6_value(const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
        constexpr std::string_view what = "an IPv6 address with prefix length";
        constexpr std::string_view example = "e.g. fd3e:dfa0:4efb:77::2/64";
        auto s = scalar(v, m, key, what, example);
        if (!s) return std::nullopt;
        auto c = wire::Ipv6Cidr::parse(*s);
        if (!c) {
            bad(v, m, key, what, example);
            return std::nullopt;
        }
        if (c->prefix_len < 1) {
            bad(v, m, key, "an IPv6 address with a usable prefix length", "/1 to /128");
            return std::nullopt;
        }
        const auto& a = c->address;
        if (a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_link_local() || a.is_ipv4_mapped()) {
            bad(v, m, key, "a usable IPv6 host address",
                "a unicast address, not ::, ::1, multicast (ff00::/8), link-local (fe80::/10, derived from the "
                "MAC) or IPv4-mapped");
            return std::nullopt;
        }
        return c;
    }

    void ipv6(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& v6 = cfg_.iface.ipv6;
        section(node, mark, path,
                {
                    {"address", false, "",
                     [this, &v6](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         // One address, or a list of them.
                         auto add = [&](const YAML::Node& item, const YAML::Mark& im) {
                             auto c = cidr6_value(item, im, key);
                             if (!c) return;
                             for (std::size_t i = 0; i < v6.addresses.size(); ++i) {
                                 if (v6.addresses[i].address == c->address) {
                                     error(im, key + ": \"" + c->to_string() + "\" is given twice (first at line " +
                                                   std::to_string(address6_marks_[i].line + 1) + ")");
                                     return;
                                 }
                             }
                             v6.addresses.push_back(*c);
                             address6_marks_.push_back(im);
                         };
                         if (!v.IsSequence()) return add(v, m);
                         if (v.size() == 0) {
                             return bad(v, m, key, "an IPv6 address with prefix length or a list of them",
                                        "e.g. fd3e:dfa0:4efb:77::2/64");
                         }
                         for (const auto& item : v) add(item, mark_known(item.Mark()) ? item.Mark() : m);
                     }},
                    {"gateway", false, "",
                     [this, &v6](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view allowed = "a link-local or on-link unicast address, e.g. fe80::1";
                         auto s = scalar(v, m, key, "an IPv6 address", allowed);
                         if (!s) return;
                         auto a = wire::Ipv6Address::parse(*s);
                         if (!a) return bad(v, m, key, "an IPv6 address", allowed);
                         if (a->is_unspecified() || a->is_loopback() || a->is_multicast() || a->is_ipv4_mapped()) {
                             return bad(v, m, key, "a unicast IPv6 address", allowed);
                         }
                         v6.gateway = *a;
                         gateway6_mark_ = m;
                     }},
                    {"accept_ra", false, "", bool_field(v6.accept_ra)},
                    {"hop_limit", false, "", uint_field(v6.hop_limit, 1, 255)},
                    {"reassembly_timeout", false, "", duration_field(v6.reassembly_timeout, seconds(1), seconds(120))},
                    {"reassembly_max_bytes", false, "", size_field(v6.reassembly_max_bytes, 64 * 1024, 1u << 30)},
                    {"reassembly_max_datagrams", false, "", uint_field(v6.reassembly_max_datagrams, 1, 65536)},
                    {"icmp_error_rate", false, "", uint_field(v6.icmp_error_rate_per_sec, 0, 100000)},
                });
    }

    // Neighbour Discovery (RFC 4861): the same bounds as arp.*, and DAD.
    void nd(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& v6 = cfg_.iface.ipv6;
        section(node, mark, path,
                {
                    {"entry_lifetime", false, "", duration_field(v6.nd_reachable_time, seconds(1), seconds(3600))},
                    {"retry_interval", false, "", duration_field(v6.nd_retrans_timer, milliseconds(100), seconds(60))},
                    {"max_retries", false, "", uint_field(v6.nd_max_solicit, 1, 100)},
                    {"queue_per_host", false, "", uint_field(v6.nd_queue_per_host, 1, 4096)},
                    {"cache_size", false, "", uint_field(v6.nd_cache_size, 1, 1u << 20)},
                    {"dad_transmits", false, "", uint_field(v6.dad_transmits, 0, 10)},
                });
    }

    void arp(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& ifc = cfg_.iface;
        section(node, mark, path,
                {
                    {"entry_lifetime", false, "", duration_field(ifc.arp_entry_lifetime, seconds(1), seconds(3600))},
                    {"retry_interval", false, "",
                     duration_field(ifc.arp_retry_interval, milliseconds(100), seconds(60))},
                    {"max_retries", false, "", uint_field(ifc.arp_max_retries, 1, 100)},
                    {"queue_per_host", false, "", uint_field(ifc.arp_queue_per_host, 1, 4096)},
                    {"cache_size", false, "", uint_field(ifc.arp_cache_size, 1, 1u << 20)},
                });
    }

    void tcp(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& t = cfg_.iface.tcp;
        section(node, mark, path,
                {
                    {"send_buffer", false, "", size_field(t.send_buffer, 4096, 1u << 30)},
                    {"receive_buffer", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         const std::size_t before = errors_.size();
                         size_field(t.receive_buffer, 4096, 1u << 30)(v, m, key);
                         receive_buffer_bad_ = errors_.size() != before;
                     }},
                    {"ephemeral_ports", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a port range";
                         constexpr std::string_view allowed =
                             "LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. 49152-65535";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         auto r = parse_port_range(*s);
                         if (!r) return bad(v, m, key, what, allowed);
                         t.ephemeral_port_min = r->first;
                         t.ephemeral_port_max = r->second;
                     }},
                    {"max_connections", false, "", uint_field(t.max_connections, 1, 1u << 20)},
                    {"backlog", false, "", uint_field(t.default_backlog, 1, 65535)},
                    {"msl", false, "", duration_field(t.msl, milliseconds(1), seconds(600))},
                    {"initial_rto", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         duration_field(t.initial_rto, milliseconds(10), seconds(60))(v, m, key);
                         rto_mark_ = m;
                     }},
                    {"min_rto", false, "", duration_field(t.min_rto, milliseconds(10), seconds(60))},
                    {"max_rto", false, "", duration_field(t.max_rto, milliseconds(100), seconds(600))},
                    {"max_retransmits", false, "", uint_field(t.max_retransmits, 1, 100)},
                    {"max_syn_retransmits", false, "", uint_field(t.max_syn_retransmits, 1, 100)},
                    {"window_scaling", false, "", bool_field(t.window_scaling)},
                    {"timestamps", false, "", bool_field(t.timestamps)},
                    {"sack", false, "", bool_field(t.sack)},
                    // The stack clamps the timer to 200 ms (RFC 5681 4.2 asks
                    // for less than 500 ms); allowing more would be a setting
                    // that silently does nothing.
                    {"delayed_ack", false, "", duration_field(t.delayed_ack_timeout, milliseconds(0), milliseconds(200))},
                    {"no_delay", false, "", bool_field(t.no_delay)},
                    {"keepalive", false, "", bool_field(t.keepalive)},
                    // Linux's bounds for TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (tcp(7)).
                    {"keepalive_idle", false, "", duration_field(t.keepalive_idle, seconds(1), seconds(32767))},
                    {"keepalive_interval", false, "",
                     duration_field(t.keepalive_interval, seconds(1), seconds(32767))},
                    {"keepalive_count", false, "", uint_field(t.keepalive_count, 1, 127)},
                    {"receive_buffer_max", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         // 0 turns auto-tuning off; otherwise the same range as receive_buffer.
                         auto s = scalar(v, m, key, "a size", kReceiveBufferMaxAllowed);
                         if (!s) return;
                         auto n = parse_size(*s);
                         if (!n || (*n != 0 && (*n < 4096 || *n > (1u << 30)))) {
                             return bad(v, m, key, "a size", kReceiveBufferMaxAllowed);
                         }
                         t.receive_buffer_max = static_cast<std::uint32_t>(*n);
                         receive_buffer_max_mark_ = m;
                     }},
                    {"congestion_control", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         std::string allowed;
                         for (auto name : kCongestionControls) {
                             allowed += (allowed.empty() ? "" : ", ") + std::string(name);
                         }
                         auto s = scalar(v, m, key, "a congestion control algorithm", allowed);
                         if (!s) return;
                         if (!tcp::is_known_congestion_control(*s)) {
                             return bad(v, m, key, "a congestion control algorithm", allowed);
                         }
                         t.congestion_control = *s;
                     }},
                    {"invalid_ack_ratelimit", false, "",
                     duration_field(t.invalid_ack_ratelimit, milliseconds(0), seconds(60))},
                    {"mtu_probing", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "an MTU probing mode";
                         constexpr std::string_view allowed = "off, on-blackhole, always";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         for (auto mode : {tcp::MtuProbing::kOff, tcp::MtuProbing::kOnBlackhole,
                                           tcp::MtuProbing::kAlways}) {
                             if (*s == tcp::to_string(mode)) {
                                 t.mtu_probing = mode;
                                 return;
                             }
                         }
                         bad(v, m, key, what, allowed);
                     }},
                    {"syncookies", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view allowed = "on-overflow, always, off";
                         auto s = scalar(v, m, key, "a SYN cookie mode", allowed);
                         if (!s) return;
                         for (std::size_t i = 0; i < std::size(kSynCookieModes); ++i) {
                             if (*s == kSynCookieModes[i]) {
                                 t.syncookies = static_cast<tcp::SynCookieMode>(i);
                                 return;
                             }
                         }
                         bad(v, m, key, "a SYN cookie mode", allowed);
                     }},
                    {"orphan_timeout", false, "", duration_field(t.orphan_timeout, seconds(1), seconds(3600))},
                    {"max_orphans", false, "", uint_field(t.max_orphans, 0, 1u << 20)},
                    {"memory_max", false, "",
                     [this, &t](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         auto s = scalar(v, m, key, "a size", kMemoryMaxAllowed);
                         if (!s) return;
                         auto n = parse_size(*s);
                         if (!n || (*n != 0 && (*n < (1u << 20) || *n > (1ull << 40)))) {
                             return bad(v, m, key, "a size", kMemoryMaxAllowed);
                         }
                         t.memory_max = *n;
                     }},
                });
    }

    void api(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& a = cfg_.api;
        section(node, mark, path,
                {
                    {"socket", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a Unix socket path";
                         constexpr std::string_view allowed = "an absolute path of at most 107 bytes";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         if (s->empty() || (*s)[0] != '/' || s->size() > 107 || s->back() == '/' ||
                             s->find('\0') != std::string::npos) {
                             return bad(v, m, key, what, allowed);
                         }
                         a.socket_path = *s;
                     }},
                    {"socks_socket", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a Unix socket path or \"\"";
                         constexpr std::string_view allowed =
                             "an absolute path of at most 107 bytes, or \"\" for no SOCKS5 socket";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         if (!s->empty() && ((*s)[0] != '/' || s->size() > 107 || s->back() == '/' ||
                                             s->find('\0') != std::string::npos)) {
                             return bad(v, m, key, what, allowed);
                         }
                         a.socks_socket_path = *s;
                         socks_mark_ = m;
                     }},
                    {"socket_mode", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a permission mode";
                         constexpr std::string_view allowed = "octal 0000 to 0777, e.g. 0660";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         auto mode = parse_mode(*s);
                         if (!mode) return bad(v, m, key, what, allowed);
                         a.socket_mode = *mode;
                     }},
                    {"socket_group", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view what = "a known group";
                         constexpr std::string_view allowed = "a group name from the group database or a gid";
                         auto s = scalar(v, m, key, what, allowed);
                         if (!s) return;
                         auto gid = s->empty() ? std::nullopt : resolve_group(*s);
                         if (!gid) return bad(v, m, key, what, allowed);
                         a.socket_gid = *gid;
                         a.socket_group = *s;
                     }},
                    {"max_clients", false, "", uint_field(a.max_clients, 1, 1u << 20)},
                    {"max_clients_per_user", false, "", uint_field(a.access.per_user.max_clients, 1, 1u << 20)},
                    {"max_listeners_per_user", false, "", uint_field(a.access.per_user.max_listeners, 1, 65535)},
                    {"max_memory_per_user", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         constexpr std::string_view allowed =
                             "bytes from 64KiB to 1024GiB, optionally with KiB, MiB or GiB, e.g. 1GiB";
                         auto s = scalar(v, m, key, "a size", allowed);
                         if (!s) return;
                         auto n = parse_size(*s);
                         if (!n || *n < (64u << 10) || *n > (std::uint64_t{1} << 40)) {
                             return bad(v, m, key, "a size", allowed);
                         }
                         a.access.per_user.max_memory = *n;
                     }},
                    {"connect_allow", false, "", connect_rules_field(a.access.connect.allow)},
                    {"connect_deny", false, "", connect_rules_field(a.access.connect.deny)},
                    {"request_timeout", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         Duration d = milliseconds(a.request_timeout_ms);
                         duration_field(d, milliseconds(100), seconds(600))(v, m, key);
                         a.request_timeout_ms = static_cast<std::uint32_t>(
                             std::chrono::duration_cast<milliseconds>(d).count());
                     }},
                    {"drain_timeout", false, "",
                     [this, &a](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         Duration d = milliseconds(a.drain_timeout_ms);
                         duration_field(d, milliseconds(0), seconds(600))(v, m, key);
                         a.drain_timeout_ms = static_cast<std::uint32_t>(
                             std::chrono::duration_cast<milliseconds>(d).count());
                     }},
                });
    }

    void log(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        section(node, mark, path,
                {
                    {"level", false, "",
                     [this](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         const std::string allowed = log_level_names();
                         auto s = scalar(v, m, key, "a log level", allowed);
                         if (!s) return;
                         if (auto level = parse_log_level(*s)) {
                             cfg_.log_level = std::string(*level);
                             return;
                         }
                         bad(v, m, key, "a log level", allowed);
                     }},
                });
    }

    // What the daemon gives up once it runs (daemon/sandbox/sandbox.hpp).
    void security(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        section(node, mark, path,
                {
                    {"seccomp", false, "", bool_field(cfg_.security.seccomp)},
                });
    }

    Apply percent_field(double& out) {
        return [this, &out](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
            constexpr std::string_view allowed = "0 to 100, e.g. 1.5";
            auto s = scalar(v, m, key, "a percentage", allowed);
            if (!s) return;
            auto pct = parse_percent(*s);
            if (!pct) return bad(v, m, key, "a percentage", allowed);
            out = *pct;
        };
    }

    void fault_direction(drivers::FaultDirectionConfig& d, const YAML::Node& node, const YAML::Mark& mark,
                         const std::string& path) {
        section(node, mark, path,
                {
                    {"drop", false, "", percent_field(d.drop_pct)},
                    {"duplicate", false, "", percent_field(d.duplicate_pct)},
                    {"reorder", false, "", percent_field(d.reorder_pct)},
                    {"corrupt", false, "", percent_field(d.corrupt_pct)},
                    {"delay", false, "", percent_field(d.delay_pct)},
                    {"delay_min", false, "", duration_field(d.delay_min, milliseconds(0), seconds(60))},
                    {"delay_max", false, "", duration_field(d.delay_max, milliseconds(0), seconds(60))},
                    {"reorder_depth", false, "", uint_field(d.reorder_depth, 1, 1000)},
                    {"reorder_max_hold", false, "",
                     duration_field(d.reorder_max_hold, milliseconds(1), seconds(10))},
                });
    }

    // A deliberately misbehaving link between the rings and the TAP
    // (drivers/fault_injector.hpp), for tests; off unless enabled.
    void fault(const YAML::Node& node, const YAML::Mark& mark, const std::string& path) {
        auto& f = cfg_.fault;
        fault_mark_ = mark;
        section(node, mark, path,
                {
                    {"enabled", false, "", bool_field(f.enabled)},
                    {"seed", false, "", uint_field(f.seed, 0, 9999999999999999999ull)},
                    {"max_held_frames", false, "", uint_field(f.max_held_frames, 1, 65536)},
                    {"max_held_bytes", false, "",
                     [this, &f](const YAML::Node& v, const YAML::Mark& m, const std::string& key) {
                         std::uint32_t bytes = static_cast<std::uint32_t>(f.max_held_bytes);
                         size_field(bytes, 64 * 1024, 1u << 30)(v, m, key);
                         f.max_held_bytes = bytes;
                     }},
                    {"rx", false, "",
                     [this, &f](const YAML::Node& v, const YAML::Mark& m, const std::string& k) {
                         fault_direction(f.rx, v, m, k);
                     }},
                    {"tx", false, "",
                     [this, &f](const YAML::Node& v, const YAML::Mark& m, const std::string& k) {
                         fault_direction(f.tx, v, m, k);
                     }},
                });
    }

    // Left out, the SOCKS5 socket is socks.sock beside the API socket, so
    // the two share a directory and its ownership (/run/tapstack/socks.sock
    // by default; a test's private API socket gets a private SOCKS socket).
    void socks_socket() {
        auto& a = cfg_.api;
        if (!socks_mark_) {
            const auto slash = a.socket_path.rfind('/');
            a.socks_socket_path = a.socket_path.substr(0, slash == std::string::npos ? 0 : slash + 1) + "socks.sock";
            if (a.socks_socket_path == a.socket_path) {
                a.socks_socket_path = a.socket_path.substr(0, slash + 1) + "socks5.sock";
            }
        } else if (a.socks_socket_path == a.socket_path) {
            error(*socks_mark_, "api.socks_socket: \"" + a.socks_socket_path +
                                    "\" is not a path of its own (allowed: a path other than api.socket, or \"\")");
        }
    }

    // The IPv6 gateway must be reachable on the link: link-local, or inside
    // the prefix of one of our addresses, and not ours. The host side's
    // address, like interface.host_address, is another address in the
    // prefix of one of ours, written with the same prefix length.
    void cross_checks6() {
        const auto& v6 = cfg_.iface.ipv6;
        auto ours = [&](const wire::Ipv6Address& a) {
            for (const auto& c : v6.addresses) {
                if (c.address == a) return true;
            }
            return false;
        };
        std::string prefixes;
        for (const auto& c : v6.addresses) {
            prefixes += (prefixes.empty() ? "" : ", ") + wire::Ipv6Cidr{c.network(), c.prefix_len}.to_string();
        }
        if (v6.gateway && gateway6_mark_) {
            const auto g = *v6.gateway;
            bool on_link = g.is_link_local();
            for (const auto& c : v6.addresses) on_link = on_link || c.contains(g);
            if (!on_link || ours(g)) {
                error(*gateway6_mark_, "ipv6.gateway: \"" + g.to_string() +
                                           "\" is not a gateway on the link (allowed: a link-local address, or an "
                                           "address in a prefix of ipv6.address other than ours" +
                                           (prefixes.empty() ? std::string() : ": " + prefixes) + ")");
            }
        }
        const auto& h = cfg_.tap.host_address6;
        if (h && host6_mark_) {
            bool ok = false;
            for (const auto& c : v6.addresses) ok = ok || (c.prefix_len == h->prefix_len && c.contains(h->address));
            if (!ok || ours(h->address)) {
                error(*host6_mark_, "interface.host_address6: \"" + h->to_string() +
                                        "\" is not a host address beside ipv6.address (allowed: another address in " +
                                        (prefixes.empty() ? std::string("a prefix of ipv6.address, which is not set")
                                                          : prefixes + ", written with the same prefix length") +
                                        ")");
            }
        }
    }

    void cross_checks() {
        socks_socket();
        if (fault_mark_) {
            // What only the whole stage can judge (e.g. delay_min > delay_max).
            for (const auto& problem : drivers::validate(cfg_.fault)) error(*fault_mark_, problem);
        }
        cross_checks6();
        auto& ifc = cfg_.iface;
        if (!address_) return;  // missing or bad: already reported
        const wire::Ipv4Cidr ours = *address_;
        ifc.address = ours;
        const std::string subnet = ours.network().to_string() + "/" + std::to_string(ours.prefix_len);
        if (ifc.gateway && gateway_mark_) {
            const auto g = *ifc.gateway;
            const bool ok = ours.contains(g) && g != ours.address &&
                            (ours.prefix_len > 30 || (g != ours.network() && g != ours.broadcast()));
            if (!ok) {
                error(*gateway_mark_, "ipv4.gateway: \"" + g.to_string() +
                                          "\" is not a gateway on the subnet of ipv4.address (allowed: an address "
                                          "in " + subnet + " other than " + ours.address.to_string() +
                                          " and the network and broadcast addresses)");
            }
        }
        if (cfg_.tap.host_address && host_mark_) {
            const auto h = *cfg_.tap.host_address;
            const bool ok = h.prefix_len == ours.prefix_len && ours.contains(h.address) && h.address != ours.address;
            if (!ok) {
                error(*host_mark_, "interface.host_address: \"" + h.to_string() +
                                       "\" is not a host address beside ipv4.address (allowed: an address in " +
                                       subnet + " other than " + ours.address.to_string() + ", written with /" +
                                       std::to_string(ours.prefix_len) + ")");
            }
        }
        const auto& t = ifc.tcp;
        if (rto_mark_ && (t.initial_rto < t.min_rto || t.initial_rto > t.max_rto)) {
            error(*rto_mark_, "tcp.initial_rto: \"" + duration_text(t.initial_rto) +
                                  "\" is not between tcp.min_rto and tcp.max_rto (allowed: " +
                                  duration_text(t.min_rto) + " to " + duration_text(t.max_rto) + ")");
        } else if (t.min_rto > t.max_rto) {
            error(YAML::Mark(), "tcp.min_rto: \"" + duration_text(t.min_rto) +
                                    "\" is not at most tcp.max_rto (allowed: up to " + duration_text(t.max_rto) + ")");
        }
        // Given explicitly, the ceiling of auto-tuning must not be below the
        // starting size (0 turns auto-tuning off). Left out, the default
        // simply ends up unused when receive_buffer is already larger.
        if (receive_buffer_max_mark_ && !receive_buffer_bad_ && t.receive_buffer_max != 0 &&
            t.receive_buffer_max < t.receive_buffer) {
            error(*receive_buffer_max_mark_,
                  "tcp.receive_buffer_max: \"" + size_text(t.receive_buffer_max) +
                      "\" is not 0 or at least tcp.receive_buffer (allowed: 0 to turn auto-tuning off, or " +
                      size_text(t.receive_buffer) + " to 1GiB)");
        }
        if (!cfg_.mac_configured) ifc.mac = default_mac(ours.address);
        // The MTU is one setting for the device and the IP layer.
        ifc.mtu = cfg_.tap.mtu;
        ifc.tcp.local_address = ours.address;
        ifc.tcp.mtu = cfg_.tap.mtu;
    }
};

}  // namespace

Config default_config() {
    Config c;
    c.iface.ipv6.enabled = true;  // a link-local address always exists (RFC 4291 2.8)
    c.tap.name = "tap0";
    c.tap.mtu = 1500;
    c.tap.offloads = true;  // fast by default; a TAP that refuses them is one warning
    c.iface.mtu = 1500;
    c.api.socket_path = "/run/tapstack/tapstack.sock";
    c.api.socks_socket_path = "/run/tapstack/socks.sock";
    c.api.socket_mode = 0660;
    c.log_level = "info";
    return c;
}

wire::MacAddress default_mac(wire::Ipv4Address address) {
    return wire::MacAddress{{0x02, 0x74, 0x73, static_cast<std::uint8_t>(address.value >> 16),
                             static_cast<std::uint8_t>(address.value >> 8), static_cast<std::uint8_t>(address.value)}};
}

ConfigResult load_config_text(std::string_view text, std::string_view file_name) {
    return Loader(file_name).load_text(text);
}

ConfigResult load_config_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        const int err = errno;
        return ConfigResult{default_config(), {path + ": cannot read: " + std::strerror(err)}};
    }
    std::string text;
    char buf[4096];
    std::size_t n = 0;
    // A config file is small; refuse anything absurd rather than read it all.
    constexpr std::size_t kMaxBytes = 1 << 20;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() <= kMaxBytes) text.append(buf, n);
    const bool read_error = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (read_error) return ConfigResult{default_config(), {path + ": cannot read: " + std::strerror(err)}};
    if (text.size() > kMaxBytes) {
        return ConfigResult{default_config(), {path + ": cannot read: larger than 1 MiB, not a config file"}};
    }
    return load_config_text(text, path);
}

}  // namespace tapstack::daemon
