// Logging setup; see logging.hpp.
#include "daemon/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace tapstack::daemon {
namespace {

// "%*": the sd-daemon(3) priority prefix for the message's level.
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        char digit = '6';
        switch (msg.level) {
        case spdlog::level::trace:
        case spdlog::level::debug: digit = '7'; break;
        case spdlog::level::info: digit = '6'; break;
        case spdlog::level::warn: digit = '4'; break;
        case spdlog::level::err: digit = '3'; break;
        case spdlog::level::critical: digit = '2'; break;
        default: break;
        }
        const char prefix[] = {'<', digit, '>'};
        dest.append(prefix, prefix + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriorityFlag>(); }
};

}  // namespace

void setup_logging(std::string_view level) {
    const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    std::shared_ptr<spdlog::logger> logger;
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (journal) {
        logger = spdlog::stderr_logger_mt("tapstackd");
        formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
    } else {
        logger = spdlog::stderr_color_mt("tapstackd");
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$: %v");
    }
    logger->set_formatter(std::move(formatter));
    auto lvl = spdlog::level::from_str(std::string(level));
    if (level == "off") lvl = spdlog::level::off;
    logger->set_level(lvl);
    // stderr sinks flush every line; warnings and above are flushed anyway.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace tapstack::daemon
