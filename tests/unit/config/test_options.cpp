// tapstackd's command line (getopt_long): every flag, the spellings getopt
// users expect (attached values, combined short flags, "--flag=value"), and
// the errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "daemon/options.hpp"
#include "tapstack_version.hpp"

using tapstack::daemon::Options;
using tapstack::daemon::parse_options;

namespace {
tapstack::daemon::OptionsResult parse(std::initializer_list<const char*> args) {
    std::vector<const char*> argv(args.size() + 1, "tapstackd");
    std::copy(args.begin(), args.end(), argv.begin() + 1);
    return parse_options(argv);
}
}  // namespace

TEST_CASE("no arguments: run on the default config") {
    auto r = parse({});
    CHECK(r.error.empty());
    CHECK(r.options.action == Options::Action::kRun);
    CHECK(r.options.config_path == TAPSTACK_DEFAULT_CONFIG);
    CHECK_FALSE(r.options.log_level);
}

TEST_CASE("--config, --log-level and --check-config, separate and with '='") {
    auto r = parse({"--config", "/tmp/a.yaml", "--log-level=debug", "--check-config"});
    CHECK(r.error.empty());
    CHECK(r.options.action == Options::Action::kCheckConfig);
    CHECK(r.options.config_path == "/tmp/a.yaml");
    CHECK(r.options.log_level == "debug");
    CHECK(parse({"--config=/x.yaml"}).options.config_path == "/x.yaml");
}

TEST_CASE("getopt spellings: -c PATH, -cPATH, abbreviated long options, the last value wins") {
    CHECK(parse({"-c", "/a.yaml"}).options.config_path == "/a.yaml");
    CHECK(parse({"-c/b.yaml"}).options.config_path == "/b.yaml");
    CHECK(parse({"--conf=/c.yaml"}).options.config_path == "/c.yaml");
    auto r = parse({"--check-config", "-c", "/d.yaml", "--log-level", "info", "-c/e.yaml"});
    CHECK(r.error.empty());
    CHECK(r.options.action == Options::Action::kCheckConfig);
    CHECK(r.options.config_path == "/e.yaml");
}

TEST_CASE("--log-level takes warn and err for warning and error") {
    CHECK(parse({"--log-level", "warn"}).options.log_level == "warning");
    CHECK(parse({"--log-level=err"}).options.log_level == "error");
    CHECK(parse({"--log-level", "warning"}).options.log_level == "warning");
}

TEST_CASE("--help and --version, long, short and combined") {
    CHECK(parse({"--help"}).options.action == Options::Action::kHelp);
    CHECK(parse({"-h"}).options.action == Options::Action::kHelp);
    CHECK(parse({"--version"}).options.action == Options::Action::kVersion);
    CHECK(parse({"-V"}).options.action == Options::Action::kVersion);
    CHECK(parse({"-Vh"}).options.action == Options::Action::kVersion);  // the first one decides
}

TEST_CASE("usage errors: unknown flag, stray argument, missing or bad value") {
    CHECK(parse({"--frobnicate"}).error == "unknown option \"--frobnicate\"");
    CHECK(parse({"-x"}).error == "unknown option \"-x\"");
    CHECK(parse({"extra"}).error == "unexpected argument \"extra\"");
    CHECK(parse({"--", "extra"}).error == "unexpected argument \"extra\"");
    CHECK(parse({"--config"}).error == "--config needs a value");
    CHECK(parse({"-c"}).error == "-c needs a value");
    CHECK(parse({"--config="}).error == "--config needs a non-empty path");
    CHECK(parse({"--log-level", "loud"}).error ==
          "--log-level: \"loud\" is not a log level (allowed: trace, debug, info, warning (or warn), error (or err), "
          "critical, off)");
    CHECK(parse({"--check-config=yes"}).error == "--check-config takes no value");
    CHECK(parse({"--help=now"}).error == "--help takes no value");
}

TEST_CASE("parsing twice in one process starts afresh (getopt's state is reset)") {
    CHECK(parse({"-c", "/one.yaml"}).options.config_path == "/one.yaml");
    auto r = parse({"--check-config"});
    CHECK(r.error.empty());
    CHECK(r.options.config_path == TAPSTACK_DEFAULT_CONFIG);
}
