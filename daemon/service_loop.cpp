// The libuv loop of tapstackd; see service_loop.hpp for the turn order.
#include "daemon/service_loop.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <string>

#include "daemon/api/api_server.hpp"
#include "daemon/counters_line.hpp"
#include "daemon/reload.hpp"
#include "daemon/systemd_notify.hpp"
#include "drivers/tap_port.hpp"
#include "stack/iface/frame_sink.hpp"
#include "stack/iface/interface.hpp"
#include "tapstack_version.hpp"

namespace tapstack::daemon {
namespace {

// The Interface's output: onto the port's TX ring. (TapPort::transmit
// flushes a full ring to the TAP itself before giving up, so a burst larger
// than the ring is only dropped when the kernel pushes back.)
class PortSink final : public iface::FrameSink {
public:
    explicit PortSink(drivers::TapPort& port) : port_(port) {}
    bool transmit(std::span<const std::uint8_t> frame) override { return port_.transmit(frame); }
    // TSO super-segments and partial checksums (interface.offloads) go to
    // the kernel in the virtio-net header.
    bool transmit_offload(std::span<std::uint8_t> frame, const wire::TxOffload& offload) override {
        return port_.transmit(frame, offload);
    }
    // Every IPv4 frame: headers and payload go straight
    // into the TX virtqueue buffer, without being assembled first.
    bool transmit_parts(Parts parts, const wire::TxOffload& offload) override {
        return port_.transmit(parts, offload);
    }

private:
    drivers::TapPort& port_;
};

Instant now_instant() { return instant_from_ns(static_cast<std::int64_t>(uv_hrtime())); }

// What DAD (RFC 4862) found about one of our IPv6 addresses.
void log_ipv6_event(const std::string& device, const iface::Ipv6AddressEvent& e) {
    const std::string who = e.from ? " by " + e.from->to_string() : "";
    switch (e.kind) {
    case iface::Ipv6AddressEvent::Kind::kReady:
        spdlog::info("IPv6 address {} on {} is ready", e.address.to_string(), device);
        break;
    case iface::Ipv6AddressEvent::Kind::kDuplicate:
        spdlog::error("IPv6 address {} on {} is already in use{} (duplicate address detection, RFC 4862): "
                      "not used; choose another ipv6.address",
                      e.address.to_string(), device, who);
        break;
    case iface::Ipv6AddressEvent::Kind::kDisabled:
        spdlog::error("IPv6 is off on {}: its link-local address {} is in use{} (RFC 4862 5.4.5); "
                      "set another interface.mac and restart",
                      device, e.address.to_string(), who);
        break;
    case iface::Ipv6AddressEvent::Kind::kConflict:
        spdlog::warn("IPv6 address {} on {} is also claimed{}: another node answers for it", e.address.to_string(),
                     device, who);
        break;
    }
}

template <typename Handle>
uv_handle_t* as_handle(Handle* h) {
    return reinterpret_cast<uv_handle_t*>(h);
}

}  // namespace

struct ServiceLoop::Impl {
    Config config;
    Config file_config;  // as loaded (start or last reload), before run-time adjustments
    ServiceHooks hooks;
    SystemdNotifier notifier;
    tcp::Secret seed;
    uv_loop_t loop{};
    std::unique_ptr<drivers::TapPort> port;
    std::unique_ptr<PortSink> sink;
    std::unique_ptr<iface::Interface> iface;
    std::unique_ptr<ApiServer> api;
    bool api_started = false;

    uv_poll_t tap_poll{};
    uv_timer_t timer{};
    uv_prepare_t prepare{};
    uv_idle_t idle{};
    uv_signal_t sig_int{}, sig_term{}, sig_hup{}, sig_usr1{};
    uv_timer_t drain_timer{};  // graceful stop: api.drain_timeout
    uv_timer_t status_timer{}, watchdog_timer{};

    int poll_events = 0;
    bool turn_requested = false;
    bool stopping = false;
    bool draining = false;  // SIGTERM: streams finish, then stop
    bool drain_lingering = false;  // every stream finished: STATUS still answered briefly
    std::uint64_t drain_deadline_ms = 0;  // uv_now() at api.drain_timeout
    int exit_status = 0;

    Impl(const Config& c, const tcp::Secret& s, ServiceHooks h)
        : config(c), file_config(c), hooks(std::move(h)), seed(s) {}

    int run();
    bool start_handles();
    void turn();
    void on_tap(int status, int events);
    void on_signal(int signum);
    void request_turn();
    void update_poll();
    void receive(Instant now);
    bool port_failed();
    void arm_timer(Instant now);
    void stop(int status);
    void begin_drain();
    bool drain_finished();
    void on_drain_finished();
    void on_drain_timer();
    void close_handles();
    // Life cycle (the end of this file).
    bool enter_running(std::string* error);
    std::string status_line() const;
    void reload();
};

int ServiceLoop::Impl::run() {
    // An application that vanishes must not kill the daemon: writes to its
    // socket report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    if (int rc = uv_loop_init(&loop); rc != 0) {
        spdlog::error("cannot start the event loop: {}", uv_strerror(rc));
        return 1;
    }
    std::string error;
    if (!port) port = drivers::TapPort::open(config.tap, &error);
    if (!port) {
        spdlog::error("cannot open the TAP device: {}", error);
        uv_loop_close(&loop);
        return 1;
    }
    for (const auto& w : port->warnings()) spdlog::warn("TAP device {}: {}", port->name(), w);
    if (config.fault.enabled) {
        if (!port->set_fault_injection(config.fault, &error)) {
            spdlog::error("cannot set up fault injection: {}", error);
            port.reset();
            uv_loop_close(&loop);
            return 1;
        }
        // Loud on purpose: this link now loses, reorders or corrupts frames.
        spdlog::warn("{}", drivers::describe(config.fault));
        if (spdlog::should_log(spdlog::level::debug)) {
            port->set_fault_observer(
                [](const drivers::FaultEvent& event) { spdlog::debug("fault: {}", drivers::describe(event)); });
        }
    }
    if (port->mtu() != config.tap.mtu && port->mtu() >= 576) {
        // An attached device whose MTU we could not change: never send more
        // than the link takes.
        const auto mtu = static_cast<std::uint16_t>(std::min<std::uint32_t>(port->mtu(), config.tap.mtu));
        spdlog::warn("TAP device {} has MTU {}, configured {}; using {}", port->name(), port->mtu(),
                     config.tap.mtu, mtu);
        config.iface.mtu = mtu;
        config.iface.tcp.mtu = mtu;
    }
    // Offloads in effect only when the kernel took them; a refusal was one
    // warning above, and the daemon then runs exactly as without them.
    config.tap.offloads = config.tap.offloads && port->rx_offloads();
    if (config.tap.offloads) {
        // Not under fault injection: the kernel would checksum a frame the
        // stage corrupted, hiding the corruption from the receiver.
        config.iface.tcp.tso = !config.fault.enabled;
        spdlog::info("TAP device {}: offloads on (receive: checksum + TSO4, transmit: {})", port->name(),
                     config.iface.tcp.tso ? "TSO4" : "off under fault injection");
    }
    sink = std::make_unique<PortSink>(*port);
    config.iface.ipv6.on_address_event = [name = port->name()](const iface::Ipv6AddressEvent& e) {
        log_ipv6_event(name, e);
    };
    iface = std::make_unique<iface::Interface>(config.iface, *sink, seed);
    // `tapstack stats` shows the port's counters too; captures tap the port.
    config.api.extra_metrics = [this](const MetricVisitor& visit) { port->visit_metrics(visit); };
    config.api.attach_frame_tap = [this](drivers::FrameTap* tap) { port->set_frame_tap(tap); };
    config.api.interface_name = port->name();
    config.api.offloads = port->rx_offloads();
    api = std::make_unique<ApiServer>(&loop, *iface, config.api, [this] { request_turn(); });
    if (!api->start(&error)) {
        spdlog::error("cannot start the API on {}: {}", config.api.socket_path, error);
        api->stop();
        uv_run(&loop, UV_RUN_DEFAULT);
        api.reset();
        iface.reset();
        port.reset();
        uv_loop_close(&loop);
        return 1;
    }
    api_started = true;
    if (!start_handles()) {
        stop(1);
    } else if (!enter_running(&error)) {
        spdlog::error("{}", error);
        stop(1);
    } else {
        const Instant now = now_instant();
        iface->announce(now);  // gratuitous ARP (RFC 5227 announcement)
        iface->poll(now);
        port->flush_tx(now);
        update_poll();
        arm_timer(now);
        const std::string gateway = config.iface.gateway ? " gateway " + config.iface.gateway->to_string() : "";
        const std::string socks = config.api.socks_socket_path.empty() ? "" : ", socks5 " + config.api.socks_socket_path;
        spdlog::info("tapstackd {} running: interface {} ({}) mtu {} mac {} address {}{}, api {}{}", TAPSTACK_VERSION,
                     port->name(), port->created() ? "created" : "attached", port->mtu(),
                     config.iface.mac.to_string(), config.iface.address.to_string(), gateway, config.api.socket_path,
                     socks);
        notifier.ready(status_line());
        std::string v6;
        for (const auto& a : iface->ipv6_addresses()) v6 += " " + a.cidr.to_string();
        const std::string gateway6 = config.iface.ipv6.gateway ? " gateway " + config.iface.ipv6.gateway->to_string() : "";
        spdlog::info("IPv6 addresses{}{}: each is used once duplicate address detection passes", v6, gateway6);
    }
    uv_run(&loop, UV_RUN_DEFAULT);

    // Every handle is closed now; tear down in reverse order of construction.
    api.reset();
    iface.reset();
    sink.reset();
    port.reset();
    if (int rc = uv_loop_close(&loop); rc != 0) {
        spdlog::warn("event loop closed with handles still open: {}", uv_strerror(rc));
    }
    // The API removes its sockets; make sure a clean stop never leaves one
    // (unless systemd passed it: the socket unit owns that file).
    for (const std::string& path : {config.api.listen_fd < 0 ? config.api.socket_path : std::string(),
                                    config.api.socks_socket_path}) {
        struct stat st {};
        if (api_started && !path.empty() && lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(path.c_str());
        }
    }
    spdlog::info("tapstackd stopped");
    return exit_status;
}

bool ServiceLoop::Impl::start_handles() {
    auto check = [](int rc, const char* what) {
        if (rc != 0) spdlog::error("cannot set up {}: {}", what, uv_strerror(rc));
        return rc == 0;
    };
    tap_poll.data = timer.data = prepare.data = idle.data = drain_timer.data = this;
    sig_int.data = sig_term.data = sig_hup.data = sig_usr1.data = this;
    // Init every handle first so close_handles() may close them all.
    bool ok = check(uv_poll_init(&loop, &tap_poll, port->fd()), "the TAP poll handle");
    ok = check(uv_timer_init(&loop, &timer), "the timer") && ok;
    ok = check(uv_prepare_init(&loop, &prepare), "the prepare handle") && ok;
    ok = check(uv_idle_init(&loop, &idle), "the idle handle") && ok;
    ok = check(uv_timer_init(&loop, &drain_timer), "the drain timer") && ok;
    ok = check(uv_signal_init(&loop, &sig_int), "SIGINT") && ok;
    ok = check(uv_signal_init(&loop, &sig_term), "SIGTERM") && ok;
    ok = check(uv_signal_init(&loop, &sig_hup), "SIGHUP") && ok;
    ok = check(uv_signal_init(&loop, &sig_usr1), "SIGUSR1") && ok;
    ok = check(uv_timer_init(&loop, &status_timer), "the status timer") && ok;
    ok = check(uv_timer_init(&loop, &watchdog_timer), "the watchdog timer") && ok;
    status_timer.data = watchdog_timer.data = this;
    if (!ok) return false;
    auto signal_cb = [](uv_signal_t* h, int signum) { static_cast<Impl*>(h->data)->on_signal(signum); };
    ok = check(uv_signal_start(&sig_int, signal_cb, SIGINT), "SIGINT") &&
         check(uv_signal_start(&sig_term, signal_cb, SIGTERM), "SIGTERM") &&
         check(uv_signal_start(&sig_hup, signal_cb, SIGHUP), "SIGHUP") &&
         check(uv_signal_start(&sig_usr1, signal_cb, SIGUSR1), "SIGUSR1") &&
         check(uv_prepare_start(&prepare, [](uv_prepare_t* h) { static_cast<Impl*>(h->data)->turn(); }),
               "the prepare handle");
    return ok;
}

void ServiceLoop::Impl::turn() {
    if (stopping) return;
    turn_requested = false;
    const Instant now = now_instant();
    // Frames a fault-injection stage held back and that are due now.
    if (port->poll_at() <= now) receive(now);
    iface->poll(now);
    api->service(now);
    iface->poll(now);
    port->flush_tx(now);
    if (port_failed()) return;
    if (draining && !drain_lingering && drain_finished()) {
        on_drain_finished();
        if (stopping) return;
    }
    update_poll();
    if (turn_requested || iface->tcp().has_pending_events()) {
        uv_idle_start(&idle, [](uv_idle_t*) {});  // keeps libuv from blocking: another turn follows at once
    } else {
        uv_idle_stop(&idle);
    }
    arm_timer(now);
}

void ServiceLoop::Impl::request_turn() {
    if (stopping) return;
    turn_requested = true;
    uv_idle_start(&idle, [](uv_idle_t*) {});
}

void ServiceLoop::Impl::on_tap(int status, int events) {
    if (stopping) return;
    if (status < 0) {
        // EBADF/EBADFD here means the device was deleted under us (ip link del).
        spdlog::error("TAP device failed: {}: {} (was it deleted?); stopping", port->name(), uv_strerror(status));
        stop(1);
        return;
    }
    const Instant now = now_instant();
    if ((events & UV_READABLE) != 0) receive(now);
    if ((events & UV_WRITABLE) != 0) port->flush_tx(now);
    if (port_failed()) return;
    update_poll();
}

void ServiceLoop::Impl::receive(Instant now) {
    if (config.tap.offloads) {
        port->poll_rx_offload(now, [this, now](std::span<const std::uint8_t> frame, const wire::RxOffload& offload) {
            iface->receive_frame(now, frame, offload);
        });
        return;
    }
    port->poll_rx(now, [this, now](std::span<const std::uint8_t> frame) { iface->receive_frame(now, frame); });
}

bool ServiceLoop::Impl::port_failed() {
    if (port->failure().empty()) return false;
    spdlog::error("TAP device failed: {}; stopping", port->failure());
    stop(1);
    return true;
}

void ServiceLoop::Impl::update_poll() {
    const int want = UV_READABLE | (port->tx_blocked() ? UV_WRITABLE : 0);
    if (want == poll_events) return;
    const int rc = uv_poll_start(&tap_poll, want, [](uv_poll_t* h, int status, int events) {
        static_cast<Impl*>(h->data)->on_tap(status, events);
    });
    if (rc != 0) {
        spdlog::error("cannot watch TAP device {}: {}; stopping", port->name(), uv_strerror(rc));
        stop(1);
        return;
    }
    poll_events = want;
}

void ServiceLoop::Impl::arm_timer(Instant now) {
    const Instant at = std::min(iface->poll_at(), port->poll_at());
    if (at == kNever) {
        uv_timer_stop(&timer);
        return;
    }
    // Round up so the timer never fires before the deadline; cap at an hour
    // (the turn re-arms it anyway).
    const std::int64_t delta_ns = to_ns(at) - to_ns(now);
    constexpr std::int64_t kHourMs = 3600 * 1000;
    std::int64_t ms = delta_ns <= 0 ? 0 : (delta_ns + 999'999) / 1'000'000;
    if (ms > kHourMs) ms = kHourMs;
    uv_timer_start(&timer, [](uv_timer_t*) {}, static_cast<std::uint64_t>(ms), 0);
}

void ServiceLoop::Impl::on_signal(int signum) {
    switch (signum) {
    case SIGTERM:
        if (!draining && config.api.drain_timeout_ms > 0) {
            begin_drain();
            break;
        }
        spdlog::info("SIGTERM: stopping now");
        stop(0);
        break;
    case SIGINT:
        spdlog::info("SIGINT: stopping now");
        stop(0);
        break;
    case SIGHUP:
        reload();
        break;
    case SIGUSR1:
        spdlog::info("{}", counters_line(*api));
        break;
    default:
        break;
    }
}

// Graceful stop (SIGTERM): the API refuses new streams and half-closes
// the ones there (FIN after what their applications wrote); they finish on
// their own, every received byte reaching its application. The daemon
// stops once none is left and the peers acknowledged everything closed
// streams still had to send, or after api.drain_timeout, whichever is
// first (stop() then resets what is left). A second SIGTERM, or SIGINT,
// stops at once.
// An application learns how its stream ended with STATUS after EOF, on a
// new connection: once the last stream has finished the daemon answers for
// kDrainLingerMs more (within the drain timeout) before it goes.
constexpr std::uint64_t kDrainLingerMs = 500;

void ServiceLoop::Impl::begin_drain() {
    draining = true;
    notifier.stopping();
    spdlog::info("SIGTERM: stopping gracefully: no new streams; the open ones get FIN and {} ms to finish "
                 "(SIGTERM again or SIGINT: stop now)",
                 config.api.drain_timeout_ms);
    drain_deadline_ms = uv_now(&loop) + config.api.drain_timeout_ms;
    if (api->drain() == 0 && iface->tcp().orphans_sending() == 0) {
        spdlog::info("no stream open; stopping");
        stop(0);
        return;
    }
    uv_timer_start(
        &drain_timer, [](uv_timer_t* h) { static_cast<Impl*>(h->data)->on_drain_timer(); },
        config.api.drain_timeout_ms, 0);
    request_turn();
}

bool ServiceLoop::Impl::drain_finished() { return api->drained() && iface->tcp().orphans_sending() == 0; }

void ServiceLoop::Impl::on_drain_finished() {
    drain_lingering = true;
    const std::uint64_t now_ms = uv_now(&loop);
    const std::uint64_t left = drain_deadline_ms > now_ms ? drain_deadline_ms - now_ms : 0;
    spdlog::info("every stream has finished; stopping in {} ms", std::min(left, kDrainLingerMs));
    uv_timer_start(
        &drain_timer, [](uv_timer_t* h) { static_cast<Impl*>(h->data)->on_drain_timer(); },
        std::min(left, kDrainLingerMs), 0);
}

void ServiceLoop::Impl::on_drain_timer() {
    if (!drain_lingering) {
        spdlog::warn("api.drain_timeout ({} ms): resetting what is still open", config.api.drain_timeout_ms);
    }
    stop(0);
}

void ServiceLoop::Impl::stop(int status) {
    if (stopping) return;
    stopping = true;
    notifier.stopping();
    exit_status = status;
    api->stop();
    // Let the resets and FINs the API's stop queued leave before the TAP
    // closes; connections still finishing a close alone are reset too.
    const Instant now = now_instant();
    iface->tcp().abort_orphans(now);
    iface->poll(now);
    port->flush_tx(now);
    close_handles();
}

void ServiceLoop::Impl::close_handles() {
    for (uv_handle_t* h : {as_handle(&tap_poll), as_handle(&timer), as_handle(&prepare), as_handle(&idle),
                           as_handle(&sig_int), as_handle(&sig_term), as_handle(&sig_hup), as_handle(&sig_usr1),
                           as_handle(&drain_timer), as_handle(&status_timer), as_handle(&watchdog_timer)}) {
        if (h->loop != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);
    }
}

ServiceLoop::ServiceLoop(const Config& config, const tcp::Secret& secret_seed)
    : impl_(std::make_unique<Impl>(config, secret_seed, ServiceHooks{})) {}
ServiceLoop::ServiceLoop(const Config& config, const tcp::Secret& secret_seed, ServiceHooks hooks)
    : impl_(std::make_unique<Impl>(config, secret_seed, std::move(hooks))) {}
ServiceLoop::ServiceLoop(const Config& config, const tcp::Secret& secret_seed, std::unique_ptr<drivers::TapPort> port,
                         ServiceHooks hooks)
    : impl_(std::make_unique<Impl>(config, secret_seed, std::move(hooks))) {
    impl_->port = std::move(port);
}
ServiceLoop::~ServiceLoop() = default;

int ServiceLoop::run() { return impl_->run(); }

// ---- life cycle: readiness, status, watchdog, reload -----------------------------

// The TAP is up and the API accepts: give up privileges, then start the
// timers that keep systemd informed.
bool ServiceLoop::Impl::enter_running(std::string* error) {
    if (hooks.started && !hooks.started(error)) return false;
    if (notifier.enabled()) {
        uv_timer_start(
            &status_timer,
            [](uv_timer_t* h) {
                auto* self = static_cast<Impl*>(h->data);
                self->notifier.status(self->status_line());
            },
            1000, 1000);
    }
    if (const std::uint64_t ms = notifier.watchdog_interval_ms(); ms != 0) {
        uv_timer_start(
            &watchdog_timer, [](uv_timer_t* h) { static_cast<Impl*>(h->data)->notifier.watchdog(); }, ms, ms);
        spdlog::info("watchdog: WATCHDOG=1 every {} ms", ms);
    }
    return true;
}

// One line for systemctl status: "tap0 198.19.77.2/24 mtu 1500, api PATH, 2 streams".
std::string ServiceLoop::Impl::status_line() const {
    const std::size_t streams = api ? api->stream_count() : 0;
    return port->name() + " " + config.iface.address.to_string() + " mtu " + std::to_string(config.iface.mtu) +
           ", api " + config.api.socket_path + ", " + std::to_string(streams) +
           (streams == 1 ? " stream" : " streams");
}

// SIGHUP. An invalid file changes nothing (every error is logged); a valid
// one is applied as daemon/reload.hpp describes, existing streams untouched.
void ServiceLoop::Impl::reload() {
    if (hooks.config_path.empty()) {
        spdlog::info("SIGHUP: no configuration file to re-read; nothing changes");
        return;
    }
    notifier.reloading();
    const std::string& path = hooks.config_path;
    ConfigResult loaded = load_config_file(path);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) spdlog::error("{}", e);
        spdlog::error("SIGHUP: {}: {} error(s); the configuration is unchanged", path, loaded.errors.size());
        notifier.ready(status_line());
        return;
    }
    const ReloadPlan plan = plan_reload(file_config, loaded.config, hooks.log_level_pinned);
    const bool level_changes = plan.next.log_level != file_config.log_level;
    // The more verbose of the two levels while the reload reports itself, so
    // its lines show whichever way log.level moves.
    if (level_changes) set_log_level(more_verbose_level(file_config.log_level, plan.next.log_level));
    for (const auto& c : plan.restart) {
        spdlog::warn("SIGHUP: {}: \"{}\" -> \"{}\" needs a restart; keeping \"{}\"", c.key, c.from, c.to, c.from);
    }
    for (const auto& c : plan.live) {
        spdlog::info("SIGHUP: {}: \"{}\" -> \"{}\" ({})", c.key, c.from, c.to, owner_name(c.owner));
    }
    std::string error;
    if (!apply_reload(plan, ReloadTargets{*port, *iface, *api}, &error)) {
        spdlog::error("SIGHUP: {}; the configuration is unchanged", error);
        if (level_changes) set_log_level(file_config.log_level);
        notifier.ready(status_line());
        return;
    }
    spdlog::info("SIGHUP: {}: {} key(s) change live, {} need a restart", path, plan.live.size(),
                 plan.restart.size());
    if (level_changes) set_log_level(plan.next.log_level);
    const bool fault_changed = std::any_of(plan.live.begin(), plan.live.end(),
                                           [](const ConfigChange& c) { return c.owner == KeyOwner::kFault; });
    // Loud, as at start: the link now loses, reorders or corrupts frames.
    if (fault_changed && plan.next.fault.enabled) spdlog::warn("{}", drivers::describe(plan.next.fault));
    file_config = plan.next;
    config.fault = plan.next.fault;
    config.log_level = plan.next.log_level;
    config.api.drain_timeout_ms = plan.next.api.drain_timeout_ms;
    notifier.ready(status_line());
}

}  // namespace tapstack::daemon
